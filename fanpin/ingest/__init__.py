"""Bringing a bureau's files in, one step per module (lower ones first):

``names`` the mapping table of every header and value label with its code name; ``specs`` the
import kinds and their columns; ``read`` a file into text cells; ``report`` the problems and the
plan; ``cells`` typing each column; ``checks`` the header row, references and cross-row rules;
``plan`` what an import would write; ``validate`` all of that, writing nothing; ``aggregates``
the member counts on household rows; ``apply`` writing a passed report once, in one transaction.
Around them: ``examples`` (the templates' example rows, skipped), ``guess`` (the kind a file's
headers fit, said first when another was chosen), ``diff`` (the fields an update changes, shown
before it is applied) and ``undo`` (what each batch changed, and rolling it back).

A whole workbook (the national monitoring system's export): ``xlsx`` reads its sheets fast,
``workbook`` recognises each sheet's tables from their headers and checks them all (as
``validate`` does one file), ``book`` writes them in one transaction, once per table and content.
"""
