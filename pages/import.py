"""数据导入 Import: rosters, indicator updates, department feeds, assistance records."""

import streamlit as st

from fanpin.ui.i18n import t
from fanpin.ui.sidebar import page_context

ctx = page_context("import")
st.title(t("nav.import"))
