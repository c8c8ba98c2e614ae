"""``fanpin.ui.text.md``: data put into markdown stays text (issue 17, markdown injection).

Streamlit renders markdown (CommonMark + GFM, math, its own ``:colour[...]`` and ``:icon:``
syntax) in captions, messages, headers and widget labels.  Every character that can start one of
those constructs must come out backslash-escaped, so a household ID ``![](//h/x)`` is shown as
those ten characters and never becomes an image the browser fetches."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from fanpin.ui.text import md

#: Characters that open a markdown construct in Streamlit's renderer.
ACTIVE = set("\\`*_{}[]()<>#+-.!|~$=:\"'&")


def _unescaped(s: str) -> list[str]:
    """Markdown-active characters of ``s`` not preceded by an escaping backslash."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\":
            i += 2
            continue
        if s[i] in ACTIVE:
            out.append(s[i])
        i += 1
    return out


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def test_an_image_is_text() -> None:
    assert md("![](//h/x)") == r"\!\[\]\(//h/x\)"
    assert md("![x](https://evil.example/p.png)") == r"\!\[x\]\(https\://evil\.example/p\.png\)"


def test_a_javascript_link_is_text() -> None:
    assert md("[a](javascript:alert(1))") == r"\[a\]\(javascript\:alert\(1\)\)"
    assert md("<https://evil.example>") == r"\<https\://evil\.example\>"
    assert md("www.evil.example") == r"www\.evil\.example"  # no GFM autolink: the dot is escaped


def test_html_is_text() -> None:
    assert md('<img src="//h/x" onerror=alert(1)>') == r"\<img src\=\"//h/x\" onerror\=alert\(1\)\>"
    assert md("&lt;b&gt;") == r"\&lt;b\&gt;"


def test_emphasis_math_code_and_streamlit_syntax_are_text() -> None:
    assert md("*a* **b** _c_ __d__ ~~e~~") == r"\*a\* \*\*b\*\* \_c\_ \_\_d\_\_ \~\~e\~\~"
    assert md("$x^2$ and $$\\int$$") == r"\$x^2\$ and \$\$\\int\$\$"
    assert md("`code` ```block```") == r"\`code\` \`\`\`block\`\`\`"
    assert md(":red[alarm] :material/home: :smile:") == r"\:red\[alarm\] \:material/home\: \:smile\:"


def test_a_value_cannot_start_a_heading_a_list_or_a_quote_of_its_own() -> None:
    assert md("x\n# title\n- item\n> quote\r\n1. one") == r"x \# title \- item \> quote  1\. one"
    assert md(None) == "" and md(12.5) == r"12\.5"


def test_chinese_text_is_unchanged() -> None:
    assert md("一镇 · 张三 9901") == "一镇 · 张三 9901"


@given(st.text())
def test_every_active_character_is_escaped_and_the_text_survives(s: str) -> None:
    out = md(s)
    assert not _unescaped(out)
    assert _unescape(out) == s.replace("\r", " ").replace("\n", " ")
