"""Labs from captures: worksheets whose questions and answers come from what smtpdoc explains.

`make_lab` (smtpdoc.lab.build) writes a lab folder for a capture; `check_answers`
(smtpdoc.lab.check) marks a student's answer sheet against the folder's key. The questions are
templates in smtpdoc/catalog/questions.toml; the facts that fill them are read from the
explained model (smtpdoc.lab.facts), never from a particular capture.
"""
