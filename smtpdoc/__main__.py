from smtpdoc.cli import main

main()
