"""Placeholder until the page is built."""

import streamlit as st

from fanpin.ui.i18n import t
from fanpin.ui.sidebar import page_context

ctx = page_context("register")
st.title(t("nav.register"))
st.info(t("common.coming_soon"))
