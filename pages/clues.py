"""Placeholder until the page is built."""

import streamlit as st

from fanpin.ui.i18n import t
from fanpin.ui.sidebar import page_context

ctx = page_context("clues")
st.title(t("nav.clues"))
st.info(t("common.coming_soon"))
