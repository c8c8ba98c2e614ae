"""fanpin: entry point. Page config and navigation; every page draws the shared sidebar
(``fanpin.ui.sidebar.page_context``) so that it is the same on all pages."""

import streamlit as st

from fanpin.ui import sidebar
from fanpin.ui.errors import database_guard
from fanpin.ui.i18n import t

st.set_page_config(page_title="fanpin 防返贫监测", page_icon="🏠", layout="wide")
pages = [
    st.Page("pages/todo.py", title=t("nav.todo"), icon="✅", url_path="todo"),
    st.Page("pages/overview.py", title=t("nav.overview"), icon="📊", url_path="overview", default=True),
    st.Page("pages/map.py", title=t("nav.map"), icon="🗺️", url_path="map"),
    st.Page("pages/simulator.py", title=t("nav.simulator"), icon="🎚️", url_path="simulator"),
    st.Page("pages/profile.py", title=t("nav.profile"), icon="🏡", url_path="profile"),
    st.Page("pages/clues.py", title=t("nav.clues"), icon="📨", url_path="clues"),
    st.Page("pages/register.py", title=t("nav.register"), icon="📋", url_path="register"),
    st.Page("pages/model.py", title=t("nav.model"), icon="📈", url_path="model"),
    st.Page("pages/training.py", title=t("nav.training"), icon="🎓", url_path="training"),
    st.Page("pages/import.py", title=t("nav.import"), icon="📥", url_path="import"),
    st.Page("pages/quality.py", title=t("nav.quality"), icon="🔍", url_path="quality"),
    st.Page("pages/admin.py", title=t("nav.admin"), icon="🔐", url_path="admin"),
]
# Streamlit's own page list is hidden: the sidebar links only the pages the logged-in role may
# open (fanpin.ui.sidebar.nav_links); a page opened by URL is still checked by page_context.
sidebar.SIDEBAR_NAV = True
with database_guard():  # a damaged file or a lost server: a message, not a traceback
    st.navigation(pages, position="hidden").run()
