"""Backup catalogue: which backup set to restore, decided on evidence.

:mod:`.discover` lists the sets at a backup location (one folder per set, §3) without opening
them, so years of daily sets list in well under a second; :mod:`.components` recognises what a
set holds and what a recovery path needs; :mod:`.integrity` tests the candidates (zip archives,
SQL ``RESTORE HEADERONLY``/``VERIFYONLY``, the file store copy against the manifest);
:mod:`.recommend` picks the newest complete and intact set and says why newer ones were passed
over. No Textual here.
"""
