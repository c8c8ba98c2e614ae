"""The only package code that imports streamlit: loaders, shared widgets, session state, i18n."""
