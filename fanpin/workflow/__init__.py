"""Monitoring work, one module per step of the chain:

* ``common``: vocabularies, errors, the access check and the audit row every change writes;
* ``clues``: warning clues (recording, merging duplicates, the month's scoring clues, the inbox);
* ``orders``: verification orders from clue to decision (optimistic locking), closed-loop figures;
* ``monitoring``: the monitoring record and register (who is monitored, since when, early-elimination flags);
* ``elimination``: risk elimination (the rules, a proposal, a second person's approval);
* ``profile``: one household in full (search, detail, masking, who looked);
* ``standing``: why a household has its tier this month (reasons, forced-tier reason, history);
* ``timeline``: a household's time line and its 幸福清单.

Every function that reads or writes household data takes a required ``principal``; the SQL is
in ``fanpin.store`` (clues, orders, monitoring, households).
"""
