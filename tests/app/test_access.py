"""Access control through the app (AppTest) on a copy of the small demo county: login, lock-out, idle
timeout, pages refused by role, tampered session state, case-worker scoping on the pages, search boxes
fed SQL and HTML, audit rows for each event, and an audit log the admin page cannot change."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from fanpin import store
from fanpin.access import users
from fanpin.access.roles import PAGES, ROLES, SYSTEM, can_open
from fanpin.core.i18n import translate
from fanpin.store import schema as S
from fanpin.workflow import clues, common, monitoring, orders

from .conftest import ensure_user, login, new_app, open_page, password_of, run_as

NASTY = ("' OR 1=1 --", "<script>alert(1)</script>", "%", "_", "1'; DROP TABLE households; --")


@pytest.fixture(scope="module")
def acc_db(small_demo, tmp_path_factory):
    """A private copy of the small demo (these tests write users, clues and audit rows)."""
    engine, spec = small_demo
    path = tmp_path_factory.mktemp("access") / "acc.db"
    with sqlite3.connect(engine.url.database) as a, sqlite3.connect(path) as b:
        a.backup(b)
    url = f"sqlite:///{path}"
    eng = store.make_engine(url)
    with eng.begin() as conn:
        conn.execute(S.users.delete())
    yield eng, url
    eng.dispose()


@pytest.fixture
def db(acc_db, monkeypatch: pytest.MonkeyPatch):
    eng, url = acc_db
    monkeypatch.setenv("FANPIN_DB_URL", url)
    return eng


def _texts(at) -> str:
    """Everything the page says, markdown escapes removed (names are escaped in the sidebar)."""
    parts = (*at.title, *at.markdown, *at.caption, *at.success, *at.error, *at.warning, *at.info, *at.code)
    return " ".join(str(x.value) for x in parts).replace("\\", "")


def _log(eng, action: str, actor: str | None = None) -> list:
    q = select(S.audit_log).where(S.audit_log.c.action == action).order_by(S.audit_log.c.audit_id)
    if actor:
        q = q.where(S.audit_log.c.actor == actor)
    with eng.connect() as conn:
        return list(conn.execute(q))


def _login_form(at) -> bool:
    return any(ti.key == "login_password" for ti in at.text_input)


def _townships(eng) -> list[str]:
    return sorted(users.township_codes(eng))


# ---------------------------------------------------------------- login
def test_no_users_says_how_to_create_the_first_admin(db) -> None:
    assert users.user_count(db) == 0
    for lang, words in (("zh", "还没有任何用户"), ("en", "no users yet")):
        at = new_app()
        at.session_state["lang"] = lang
        at.run()
        assert not at.exception
        assert _login_form(at)
        assert words in _texts(at)
        assert "fanpin user add NAME --role admin" in _texts(at)
        assert not at.metric and not at.dataframe  # nothing of the county before login


def test_login_logout_and_audit(db) -> None:
    name = ensure_user("leader", "ld_login")
    n_login = len(_log(db, "login", name))
    at = new_app()
    at.run()
    login(at, name)
    assert not at.exception and not _login_form(at)
    assert at.metric  # the overview
    assert "ld_login" in _texts(at) and "局领导" in _texts(at)  # the sidebar says who is logged in
    assert len(_log(db, "login", name)) == n_login + 1
    assert "role" not in at.session_state and "sb_role_zh" not in at.session_state  # no role selector any more
    at.button(key="sb_logout").click().run()
    assert _login_form(at) and not at.metric
    assert _log(db, "logout", name)


def test_wrong_password_and_unknown_user_get_the_same_message(db) -> None:
    name = ensure_user("analyst", "an_wrong")
    messages = []
    for user, pw in ((name, "wrong-password"), ("no_such_user", "whatever-pw")):
        at = new_app()
        at.run()
        login(at, user, pw)
        assert _login_form(at)
        messages.append([e.value for e in at.error])
    assert messages[0] == messages[1] and messages[0]
    assert _log(db, "login_failed", name) and _log(db, "login_failed", "no_such_user")


def test_five_failures_lock_out_even_the_right_password(db) -> None:
    name = ensure_user("analyst", "an_locked")
    at = new_app()
    at.run()
    for _ in range(users.MAX_FAILURES):
        login(at, name, "not-the-password")
    assert users.get_user(db, name).locked_until is not None
    login(at, name, password_of(name))
    assert _login_form(at) and not at.metric
    assert str(users.MAX_FAILURES) in " ".join(e.value for e in at.error)
    reasons = [r.detail for r in _log(db, "login_failed", name)]
    assert len(reasons) == users.MAX_FAILURES + 1 and '"locked"' in reasons[-1]
    assert not _log(db, "login", name)
    # the administrator's new password lifts the lock
    users.set_password(db, name, password_of(name), principal=SYSTEM)
    login(at, name)
    assert not _login_form(at)


def _last_seen(eng, username: str, minutes: float) -> None:
    """The user's login sessions last seen ``minutes`` ago (the idle timeout is kept with the session)."""
    from datetime import datetime, timedelta

    with eng.begin() as conn:
        conn.execute(update(S.sessions).where(S.sessions.c.username == username).values(last_seen=datetime.now() - timedelta(minutes=minutes)))


def test_idle_timeout_logs_out(db, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANPIN_IDLE_MINUTES", "30")
    at = open_page("overview", role="leader")
    assert at.metric
    _last_seen(db, "leader", minutes=29)  # 29 minutes: still in
    at.run()
    assert at.metric and not _login_form(at)
    _last_seen(db, "leader", minutes=31)
    at.run()
    assert _login_form(at) and not at.metric
    assert "30" in " ".join(w.value for w in at.warning)
    assert '"idle"' in _log(db, "logout", "leader")[-1].detail


def test_a_disabled_user_is_out_at_the_next_click(db) -> None:
    name = ensure_user("leader", "ld_disabled")
    at = new_app()
    at.run()
    login(at, name)
    assert at.metric
    users.set_disabled(db, name, True, principal=SYSTEM)
    at.run()
    assert _login_form(at) and not at.metric


# ---------------------------------------------------------------- pages by role
@pytest.mark.parametrize("role", ROLES)
def test_forbidden_pages_opened_directly_are_refused(db, role: str) -> None:
    refused = [p for p in PAGES if not can_open(role, p)]
    at = new_app()
    at.switch_page(f"pages/{refused[0]}.py" if refused else "pages/overview.py")
    run_as(at, role)
    for page in refused:
        at.switch_page(f"pages/{page}.py")
        at.run()
        assert not at.exception, (page, at.exception)
        errors = " ".join(e.value for e in at.error)
        assert translate("error.forbidden", "zh", role=translate(f"role.{role}", "zh")) in errors, (role, page)
        assert not at.metric and not at.dataframe and not at.title, (role, page)


def test_tampered_session_state_gives_nothing(db) -> None:
    at = open_page("clues", role="case_worker")
    for key, value in (("role", "admin"), ("sb_role_zh", "admin"), ("_synced_role", "admin"), ("auth_role", "admin")):
        at.session_state[key] = value
    at.switch_page("pages/admin.py")
    at.run()
    assert any("无权" in e.value for e in at.error)
    assert not at.dataframe
    assert "帮扶干部" in _texts(at)  # the sidebar still shows the user's own role


def test_trainer_sees_the_demo_county_only(db) -> None:
    at = open_page("training", role="trainer")
    assert not at.exception and not at.error
    with db.begin() as conn:
        conn.execute(update(S.meta).where(S.meta.c.key == "demo").values(value="0"))
    try:
        at.run()
        assert translate("access.trainer_demo_only", "zh") in [e.value for e in at.error]
        assert not at.metric
    finally:
        with db.begin() as conn:
            conn.execute(update(S.meta).where(S.meta.c.key == "demo").values(value="1"))


# ---------------------------------------------------------------- case-worker scoping on the pages
@pytest.fixture
def one_town(db):
    """A case worker for the first township, a household inside it and one outside."""
    town = _townships(db)[0]
    name = ensure_user("case_worker", "cw_one", townships=[town])
    with db.connect() as conn:
        h = S.households.c
        inside = conn.execute(select(h.household_id).where(h.township_code == town).order_by(h.household_id).limit(1)).scalar_one()
        outside = conn.execute(select(h.household_id).where(h.township_code != town).order_by(h.household_id).limit(1)).scalar_one()
    return name, town, inside, outside


def _open_as(name: str, page: str, **params: str):
    at = new_app()
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(f"pages/{page}.py")
    at.run()
    return login(at, name)


def test_profile_shows_only_the_case_workers_townships(db, one_town) -> None:
    name, town, inside, outside = one_town
    at = _open_as(name, "profile")
    at.text_input(key="pf_search").input(inside).run()
    assert not at.exception and inside in at.header[0].value
    n_views = len(_log(db, "household_view", name))
    at.run()  # a rerun is not a second view
    assert len(_log(db, "household_view", name)) == n_views == 1
    at.text_input(key="pf_search").input(outside).run()
    assert not at.exception and not at.header
    assert outside not in " ".join(str(x.value) for x in at.selectbox)
    # the township choice offers "all" and the worker's own township only
    assert len(at.selectbox(key="pf_township_zh").options) == 2
    # a link to a household elsewhere finds nothing (as for an unknown ID: existence is not revealed)
    at = _open_as(name, "profile", household=outside)
    assert not at.exception and not at.header and not at.dataframe
    assert translate("profile.none_found", "zh") in [w.value for w in at.warning]
    assert not any(r.target == outside for r in _log(db, "household_view", name))


def test_clues_and_register_show_only_the_case_workers_townships(db, one_town) -> None:
    name, town, inside, outside = one_town
    last = store.periods(db)[-1]
    with db.connect() as conn:
        tname = conn.execute(select(S.regions.c.name).where(S.regions.c.region_code == town)).scalar_one()
    as_of = common.as_of_date(last)
    from datetime import datetime, timedelta
    from datetime import time as dtime

    fresh = datetime.combine(as_of - timedelta(days=1), dtime(9))
    clues.add_clue(db, inside, last, "cadre_visit", "cadre", "illness", "inside", received_at=fresh, principal=SYSTEM)
    clues.add_clue(db, outside, last, "cadre_visit", "cadre", "illness", "outside", received_at=fresh, principal=SYSTEM)
    at = _open_as(name, "clues")
    assert not at.exception
    inbox = at.dataframe(key="cl_inbox").value
    expected = clues.clue_inbox(db, max_age_days=30, until_period=last, today=as_of, principal=users.principal_for(db, name))
    county = clues.clue_inbox(db, max_age_days=30, until_period=last, today=as_of, principal=SYSTEM)
    assert 0 < len(expected) < len(county)
    assert len(inbox) == len(expected) and set(inbox.iloc[:, 2]) == {tname}
    assert inside in set(inbox.iloc[:, 1]) and outside not in set(inbox.iloc[:, 1])
    # an order for a household elsewhere, typed by hand: refused with a message, nothing written
    n_orders = len(orders.list_orders(db, principal=SYSTEM))
    at.text_input(key="cl_hid").input(outside).run()
    at.button(key="cl_create").click().run()
    assert not at.exception
    assert translate("access.denied_township", "zh") in [e.value for e in at.error]
    assert len(orders.list_orders(db, principal=SYSTEM)) == n_orders

    at = _open_as(name, "register")
    assert not at.exception
    reg = at.dataframe[0].value
    town_of = dict(monitoring.register(db, principal=SYSTEM)[["household_id", "township_code"]].values)
    assert all(town_of[h] == town for h in reg.iloc[:, 0])


@pytest.mark.parametrize("page,key", [("profile", "pf_search"), ("clues", "cl_hid"), ("clues", "cl_add_hid"), ("admin", "ad_f_target")])
def test_search_boxes_take_sql_and_html_as_data(db, page: str, key: str) -> None:
    role = "admin"
    at = open_page(page, role=role)
    with db.connect() as conn:
        n_households = conn.execute(select(func.count()).select_from(S.households)).scalar()
    for value in NASTY:
        at.text_input(key=key).input(value).run()
        assert not at.exception, (key, value, at.exception)
        if page == "profile":
            assert not at.header  # nothing found, nothing leaked
        if page == "admin":  # a literal match, counted by hand over every target in the last 30 days
            with db.connect() as conn:
                targets = [r[0] or "" for r in conn.execute(select(S.audit_log.c.target))]
            n = sum(value in tg for tg in targets)
            assert translate("access.audit_count", "zh", n=f"{n:,}", limit="2,000") in [c.value for c in at.caption]
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(S.households)).scalar() == n_households


def test_login_form_takes_sql_and_html_as_data(db) -> None:
    name = ensure_user("admin", "admin_nasty")  # its own account: five wrong passwords lock it
    at = new_app()
    at.run()
    for value in NASTY:
        login(at, value, value)
        assert not at.exception and _login_form(at)
        login(at, name, value)
        assert _login_form(at)
    assert users.get_user(db, name).locked_until is not None


# ---------------------------------------------------------------- audit
def test_unmask_and_views_are_audited_once_each(db, one_town) -> None:
    name, town, inside, outside = one_town
    at = _open_as(name, "profile", household=inside)
    n_unmask = len(_log(db, "unmask", name))
    at.button(key="pf_unmask").click().run()
    assert not at.exception
    rows = _log(db, "unmask", name)
    assert len(rows) == n_unmask + 1 and rows[-1].target == inside


def test_admin_audit_page_lists_filters_and_cannot_alter(db) -> None:
    at = open_page("admin", role="admin")
    assert not at.exception
    assert not at.get("arrow_data_editor") and not at.get("data_editor")  # shown read-only
    at.tabs  # noqa: B018 - both tabs are drawn
    with db.connect() as conn:
        before = conn.execute(select(func.count()).select_from(S.audit_log)).scalar()
    def audit_table():
        return next(d.value for d in at.dataframe if "编号" in d.value.columns)

    log = audit_table()
    assert len(log) > 0
    at.selectbox(key="ad_f_action_zh").set_value("login").run()
    log = audit_table()
    assert set(log.iloc[:, 3]) == {translate("audit_action.login", "zh")}
    # the database itself refuses to change or delete entries
    with pytest.raises(DBAPIError):
        with db.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor = 'someone else'"))
    with pytest.raises(DBAPIError):
        with db.begin() as conn:
            conn.execute(text("DELETE FROM audit_log"))
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(S.audit_log)).scalar() >= before


def test_admin_adds_and_disables_a_user(db) -> None:
    at = open_page("admin", role="admin")
    town = _townships(db)[1]
    at.text_input(key="ad_name").input("new_cw")
    at.selectbox(key="ad_role_zh").set_value("case_worker")
    at.multiselect(key="ad_towns_zh").set_value([town])
    at.text_input(key="ad_pw").input("new-cw-pass")
    at.text_input(key="ad_pw2").input("new-cw-pass")
    at.button(key="ad_add").click().run()
    assert not at.exception, at.exception
    u = users.get_user(db, "new_cw")
    assert u is not None and u.townships == frozenset({town}) and u.role == "case_worker"
    assert ("admin", "new_cw") in [(r.actor, r.target) for r in _log(db, "user_changed")]
    at.selectbox(key="ad_target").set_value("new_cw")
    at.button(key="ad_disable").click().run()
    assert users.get_user(db, "new_cw").disabled
    # the admin cannot disable themself
    at.selectbox(key="ad_target").set_value("admin")
    at.button(key="ad_disable").click().run()
    assert not users.get_user(db, "admin").disabled


def test_admin_changes_a_role_and_a_case_workers_townships(db) -> None:
    at = open_page("admin", role="admin")
    towns = _townships(db)
    users.add_user(db, "role_target", "analyst", "role-target-pass", principal=SYSTEM)
    at.run()
    at.selectbox(key="ad_target").set_value("role_target").run()
    # the form starts at the account's current role: one click changes nothing (the button waits)
    assert at.selectbox(key="ad_new_role_zh_role_target").value == "analyst"
    assert at.button(key="ad_role_change").disabled
    at.selectbox(key="ad_new_role_zh_role_target").set_value("case_worker").run()
    at.multiselect(key="ad_new_towns_zh_role_target").set_value(towns[:2]).run()
    assert at.button(key="ad_role_change").disabled  # a change asks for its confirmation first
    box = [c for c in at.checkbox if c.key.startswith("ad_role_sure_role_target_case_worker")]
    assert len(box) == 1 and "分析员" in box[0].label and "帮扶干部" in box[0].label
    box[0].check().run()
    at.button(key="ad_role_change").click().run()
    assert not at.exception, at.exception
    u = users.get_user(db, "role_target")
    assert (u.role, u.townships) == ("case_worker", frozenset(towns[:2]))
    assert any(r.target == "role_target" and '"op": "role"' in r.detail for r in _log(db, "user_changed", "admin"))
    # the form now shows the new values; the audit log reads in the user's language
    at.run()
    assert at.selectbox(key="ad_new_role_zh_role_target").value == "case_worker"
    assert sorted(at.multiselect(key="ad_new_towns_zh_role_target").value) == sorted(towns[:2])
    # a case worker without townships is refused, and nothing changes
    at.multiselect(key="ad_new_towns_zh_role_target").set_value([]).run()
    [c for c in at.checkbox if c.key.startswith("ad_role_sure_role_target_case_worker")][0].check().run()
    at.button(key="ad_role_change").click().run()
    assert at.error and users.get_user(db, "role_target").townships == frozenset(towns[:2])
    # the admin cannot demote themself
    at.selectbox(key="ad_target").set_value("admin").run()
    at.selectbox(key="ad_new_role_zh_admin").set_value("leader").run()
    [c for c in at.checkbox if c.key.startswith("ad_role_sure_admin_leader")][0].check().run()
    at.button(key="ad_role_change").click().run()
    assert users.get_user(db, "admin").role == "admin"


@pytest.mark.parametrize("page", sorted(p for p in PAGES if can_open("case_worker", p)))
def test_every_page_a_one_township_case_worker_may_open_renders(db, one_town, page: str) -> None:
    name, town, inside, outside = one_town
    at = _open_as(name, page)
    assert not at.exception, (page, [e.value for e in at.exception])
    assert not any("无权" in e.value for e in at.error)
    # the sidebar counts the worker's township only
    with db.connect() as conn:
        n_town = conn.execute(select(func.count()).select_from(S.households).where(S.households.c.township_code == town)).scalar()
    assert any(f"{n_town:,} 户" in c.value for c in at.sidebar.caption), [c.value for c in at.sidebar.caption]
    assert outside not in " ".join(str(d.value.to_csv()) for d in at.dataframe)


# ---------------------------------------------------------------- identity provider (st.login)
AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "fanpin", "client_secret": "s",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


def test_oidc_maps_the_email_to_a_user_row(db) -> None:
    if users.get_user(db, "zhao@bureau.example") is None:
        users.add_user(db, "zhao@bureau.example", "leader", None, principal=SYSTEM)
    # not logged in at the provider: one login button, no password form
    at = new_app()
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert [b.key for b in at.button] == ["login_oidc"] and not _login_form(at)
    # logged in as a registered e-mail: that row's role
    at = new_app()
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "Zhao@Bureau.example", "name": "赵"}
    at.switch_page("pages/simulator.py")
    at.run()
    assert not at.exception and not at.error
    assert "局领导" in _texts(at) and at.metric
    assert _log(db, "login", "zhao@bureau.example")
    # an unknown e-mail is refused, and logged
    at = new_app()
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "stranger@example.com"}
    at.run()
    assert not at.metric
    assert translate("access.oidc_unknown", "zh") in [e.value for e in at.error]
    assert _log(db, "login_failed", "stranger@example.com")


def test_the_audit_log_download_is_the_audited_one_and_a_trainer_gets_no_download(db) -> None:
    """AppTest cannot run a deferred download's callable: the click's single ``export`` row is
    checked in the browser (tests/browser/test_access.py) and in tests/report/test_export.py.
    Here: the admin page draws the audit log's buttons through ``fanpin.ui.downloads`` (deferred,
    so drawing writes nothing), and a role without the export right sees no download anywhere."""
    at = open_page("admin", role="admin")
    n = len(_log(db, "export", "admin"))
    keys = [b.proto.id for b in at.get("download_button")]
    assert any("ad_audit_csv" in k for k in keys) and any("ad_audit_xlsx" in k for k in keys), keys
    assert all(b.proto.deferred_file_id for b in at.get("download_button"))  # built on the click, not now
    at.run()
    assert len(_log(db, "export", "admin")) == n
    for page in sorted(p for p in PAGES if can_open("trainer", p)):
        at = open_page(page, role="trainer")
        assert not at.exception, (page, at.exception)
        assert not at.get("download_button"), (page, [b.proto.label for b in at.get("download_button")])
        assert not any(b.key == "ov_brief" for b in at.button), page  # the brief is a download too


def test_hidden_navigation_lists_only_the_roles_pages(db, tmp_path) -> None:
    """With app.py's navigation hidden (``position="hidden"`` + ``sidebar.SIDEBAR_NAV``), the sidebar links
    only the pages the role may open."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "pages").symlink_to(root / "pages")
    script = (root / "app.py").read_text(encoding="utf-8").replace(
        "st.navigation(pages).run()", 'import fanpin.ui.sidebar as _sb\n_sb.SIDEBAR_NAV = True\nst.navigation(pages, position="hidden").run()'
    )
    assert 'position="hidden"' in script
    (tmp_path / "app.py").write_text(script, encoding="utf-8")
    try:
        at = AppTest.from_file(str(tmp_path / "app.py"), default_timeout=60)
        at.run()
        assert not at.get("page_link")  # nothing before login
        login(at, ensure_user("case_worker"))
        links = [p.proto.page for p in at.get("page_link")]
        # a case worker lands on 我的待办; the default page (the overview) is linked as the app's root
        assert [Path(x).stem or "overview" for x in links] == [p for p in PAGES if can_open("case_worker", p)], links
        assert at.title[0].value == translate("todo.title", "zh")
    finally:
        import fanpin.ui.sidebar as sb

        sb.SIDEBAR_NAV = False


def test_table_downloads_are_built_on_the_click_and_drawing_them_writes_nothing(db, one_town) -> None:
    """The buttons are deferred (``data`` is a callable: nothing is built on a rerun); the click's
    audit row is checked in tests/report/test_export.py and in the browser (tests/browser)."""
    name = one_town[0]
    at = new_app()
    at.switch_page("pages/overview.py")
    run_as(at, "case_worker", name)
    at.switch_page("pages/overview.py").run()  # a case worker lands on 我的待办 after login
    n = len(_log(db, "export", name))
    keys = [b.proto.id for b in at.get("download_button")]
    assert any("ov_townships_xlsx" in k for k in keys), keys
    at.run()
    assert len(_log(db, "export", name)) == n
