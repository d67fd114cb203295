from smtpdoc.cli import run

run()
