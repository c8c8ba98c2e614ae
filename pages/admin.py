"""用户与审计 Users and the audit log (admin)."""

import streamlit as st

from fanpin.ui.i18n import t
from fanpin.ui.sidebar import page_context

ctx = page_context("admin")
st.title(t("nav.admin"))
