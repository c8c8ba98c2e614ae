"""Placeholder until the page is built."""

import streamlit as st

from fanpin.ui.sidebar import page_context

ctx = page_context("profile")
st.info("…")
