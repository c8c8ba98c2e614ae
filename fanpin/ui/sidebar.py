"""The shared sidebar: database and county, the month (kept across pages), language, who is logged in.

``page_context`` draws the login form when no one is logged in, and refuses a page
the logged-in user's role may not open; the role always comes from the user's row
in the database (``fanpin.ui.login``), never from a widget or a session key.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from fanpin.access.roles import PAGES, Principal, can_open
from fanpin.core.i18n import LANGS
from fanpin.core.periods import format_period
from fanpin.ui.data import Data, get_data, warm_imports
from fanpin.ui.errors import database_guard
from fanpin.ui.i18n import kept_selectbox, lang, lbl, t
from fanpin.ui.text import md


@dataclass
class Context:
    data: Data
    period: int
    lang: str
    role: str
    county: str
    principal: Principal | None = None
    #: A region answered from the analytic store (a province, city or county code: 12 digits), or
    #: None for the database's own county (today's pages).  Set by the sidebar's region picker.
    region: str | None = None

    @property
    def actor(self) -> str:
        """Who is acting, for audit rows and who/when columns."""
        return self.principal.actor if self.principal else self.role

    @property
    def engine(self):  # noqa: ANN201 - an Engine (kept untyped: sqlalchemy is not imported at this module's top)
        return self.data.engine


#: Set by app.py when it hides Streamlit's own navigation (``st.navigation(..., position="hidden")``):
#: the sidebar then lists only the pages the logged-in user's role may open.
SIDEBAR_NAV = False
NAV_ICONS = {
    "todo": "✅", "overview": "📊", "map": "🗺️", "simulator": "🎚️", "profile": "🏡", "clues": "📨", "register": "📋", "model": "📈",
    "training": "🎓", "import": "📥", "quality": "🔍", "admin": "🔐",
}


#: The page a role lands on after login (the default page otherwise: the overview).
HOME = {"case_worker": "todo", "township_leader": "todo"}


@st.cache_data(ttl=20, show_spinner=False, max_entries=64)
def todo_count(_engine, url: str, principal: Principal, day: str) -> int:  # noqa: ANN001 - an Engine
    """How many items wait for the principal (the sidebar's badge; recounted every 20 s)."""
    from datetime import date

    from fanpin.workflow.todo import my_work

    return my_work(_engine, principal=principal, today=date.fromisoformat(day)).count


def nav_links(where, principal: Principal | None, data: Data | None = None, page: str = "") -> None:  # noqa: ANN001 - a sidebar container
    """Links to the pages the role may open (nothing before login), 我的待办 with its count; a page
    opened by URL is still checked by ``page_context``, so hiding a link is a courtesy, not the rule.
    On 我的待办 itself the count is made afresh, so it always equals the list beside it."""
    if not SIDEBAR_NAV or principal is None:
        return
    for name in PAGES:
        if can_open(principal.role, name):
            label = t(f"nav.{name}")
            if name == "todo" and data is not None:
                from datetime import date

                if page == "todo":
                    todo_count.clear()
                label = t("nav.todo_count", n=todo_count(data.engine, data.url, principal, date.today().isoformat()))
            where.page_link(f"pages/{name}.py", label=label, icon=NAV_ICONS.get(name))
    where.divider()


def language_switch() -> str:
    """Chinese by default; the choice is kept for the whole session."""
    st.sidebar.radio(
        "语言 / Language",
        LANGS,
        format_func=lambda c: {"zh": "中文", "en": "English"}[c],
        key="lang",
        horizontal=True,
        persist_state="session",
    )
    return lang()


def choose(label: str, options: list, state_key: str, format_func, default, **kwargs: object):  # noqa: ANN001, ANN201 - a label function and whatever option the widget returns
    """A sidebar selectbox whose choice survives language switches and page changes
    (``fanpin.ui.i18n.kept_selectbox``; the widget is keyed ``sb_<state_key>_<lang>``)."""
    return kept_selectbox(st.sidebar, label, options, state_key, format_func, default, prefix="sb", **kwargs)


def sidebar(data: Data, principal: Principal) -> Context:
    """Draw the sidebar (after the language switch) and keep the context for the page."""
    from fanpin.ui.login import logout
    from fanpin.ui.region import configured, pick_region, store_caption

    current = lang()
    months = data.periods()
    if not months:
        st.warning(t("common.no_data"))
        st.stop()
    names = data.township_names(current)
    county_code = next((c for c in names if c.endswith("000000")), None)
    county = names.get(county_code, "") if county_code else ""
    region = pick_region(principal, county_code, names)
    prov = configured() if region is not None else None
    if prov is not None:  # a region of the analytic store: its months
        months = prov.manifest.periods
    period = choose(t("common.month"), months, "period", lambda p: format_period(p, current), default=months[-1])
    if prov is not None:
        st.sidebar.caption(store_caption(prov, region, int(period)))
    else:
        st.sidebar.caption(t("common.database", county=md(county), households=f"{data.household_count(period):,}", url=md(_short(data.url))))
    who, user = md(principal.display_name or principal.username), md(principal.username)
    if who == user:
        st.sidebar.markdown(t("access.signed_in_plain", user=user, role=lbl("role", principal.role)))
    else:
        st.sidebar.markdown(t("access.signed_in", who=who, user=user, role=lbl("role", principal.role)))
    if principal.region is not None:
        from fanpin.ui.region import region_label, store_names

        known = {**store_names(prov or configured(), current), **names}
        st.sidebar.caption(t("province.scope", region=md(region_label(principal.region.ljust(12, "0"), known))))
    elif principal.townships is not None:
        towns = md("、".join(names.get(c, c) for c in sorted(principal.townships)))
        st.sidebar.caption(t("access.scope", townships=towns))
    st.sidebar.button(t("access.logout"), key="sb_logout", on_click=logout, args=(data.engine,))
    return Context(data=data, period=int(period), lang=current, role=principal.role, county=county, principal=principal, region=region)


def _leave_pages_directory_mode() -> None:
    """Make a page opened by URL as a server's first request run through app.py.

    Streamlit starts in its old "pages directory" mode when a ``pages/`` folder
    sits next to the entry point, and leaves it only once ``st.navigation`` has
    run.  A first request for ``/map`` would then run the page alone, with the
    automatic navigation and without app.py's page config.  Switching the flag
    off and rerunning sends this and every later run through app.py.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a Streamlit without it has no such mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        if not _under_apptest():
            st.rerun()


def _under_apptest() -> bool:
    """AppTest resets the mode before every run and runs pages directly: a rerun there
    would only repeat the run and swallow a button click, so it is skipped."""
    from streamlit.runtime import Runtime

    return "Mock" in type(getattr(Runtime, "_instance", None)).__name__


def page_context(page: str) -> Context:
    """Draw the shared sidebar and check that the role may open ``page``.

    Every page calls this first, so the sidebar is the same everywhere and is
    drawn on every run (its widgets keep their values across pages).  A page
    opened by URL without the right role shows a refusal, not the data.
    """
    from fanpin.ui.login import FRESH_LOGIN, cookie_step, current_principal, login_form

    _leave_pages_directory_mode()
    nav = st.sidebar.container()  # the page links go above the language switch
    language_switch()
    data = get_data()
    with database_guard(_short(data.url)):
        principal = current_principal(data.engine)
    cookie_step()  # the session cookie a login or a logout asked for
    nav_links(nav, principal, data, page)
    if principal is None:
        login_form(data.engine)
        warm_imports()  # the form is on screen: the slow imports run while the user types
        st.stop()
    data.principal = principal
    if st.session_state.pop(FRESH_LOGIN, False) and page == "overview" and HOME.get(principal.role, "overview") != page:
        st.switch_page(f"pages/{HOME[principal.role]}.py")  # a case worker's day starts with what waits for them
    with database_guard(_short(data.url)):
        ctx = sidebar(data, principal)
    if not can_open(ctx.role, page):
        st.error(t("error.forbidden", role=lbl("role", ctx.role)))
        st.stop()
    if principal.role == "trainer" and not _is_demo(data):
        st.error(t("access.trainer_demo_only"))
        st.stop()
    if ctx.region is not None:  # a region of the analytic store picked in the sidebar
        from fanpin.ui.region_views import REGION_PAGES, draw

        if page in REGION_PAGES:
            draw(ctx, page)  # the page at that region's level, from the engine's aggregates
            st.stop()
        st.info(t("province.county_page"))  # the other pages work on the database's own county
    return ctx


def _is_demo(data: Data) -> bool:
    """Trainers work on the synthetic demo county only (meta ``demo`` = "1")."""
    from fanpin.demo.cases import is_demo

    return is_demo(data.engine)


def _short(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return "SQLite · " + (u.database or "").rsplit("/", 1)[-1]
    return f"{u.get_backend_name()} · {u.host or ''}/{u.database or ''}"
