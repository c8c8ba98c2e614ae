"""What the user sees when the database itself fails under a page: a message, not a traceback.

A SQLite file can pass the start-up checks (a valid header and schema) and still have damaged
data pages, which only show when a page reads them ("database disk image is malformed").  The
app runs every page inside ``database_guard`` (and ``page_context`` the shared sidebar, which
AppTest runs without app.py) so that this and a lost database connection end
in a clear message in the user's language.  Streamlit's own control flow (rerun, stop, page
switch) is not an error and passes through.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy import exc as sa_exc

from fanpin.store.engine import is_corruption
from fanpin.ui.i18n import t


@contextmanager
def database_guard(url_text: str = "") -> Iterator[None]:
    try:
        yield
    except sa_exc.DatabaseError as exc:
        if is_corruption(exc):
            st.error(t("error.db_corrupt", path=url_text or "—"))
        else:
            st.error(t("error.db_failed"))
        st.stop()
