"""数据质量与监督 Data quality and supervision findings."""

import streamlit as st

from fanpin.ui.i18n import t
from fanpin.ui.sidebar import page_context

ctx = page_context("quality")
st.title(t("nav.quality"))
