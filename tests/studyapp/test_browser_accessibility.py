"""Every page a learner uses, audited in headless Chromium for what docs/review.md promises.

Text contrast at least 4.5:1 (3:1 for large text) against the background it is drawn on, a
name for every form control and button, one `h1`, a language, 44 px high buttons, a visible
focus ring on every stop of the keyboard's Tab order, and no sideways scrolling, on a desktop
window and on a 360 px phone. Measured on the rendered page (computed
styles, Prism's and Pygments' colours included), not read from the stylesheet.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from cards.challenges.models import Submission
from cards.grading import Check, Verdict
from tests.factories import PASSWORD, make_card, make_challenge, make_deck, make_state, make_submission, make_user

pytestmark = [pytest.mark.browser, pytest.mark.chromium, pytest.mark.django_db(transaction=True)]

# Runs in the page: returns a list of problems, each a short sentence naming the element.
AUDIT = """
() => {
  const problems = [];
  const describe = (el) => {
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 40);
    return `<${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string'
      ? '.' + el.className.trim().split(/\\s+/).join('.') : ''}> "${text}"`;
  };
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && style.display !== 'none'
      && !el.closest('[hidden], [aria-hidden=true]');
  };
  const parse = (color) => {
    const m = color.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const [r, g, b, a = '1'] = m[1].split(/[ ,\\/]+/).filter(Boolean);
    return [Number(r), Number(g), Number(b), Number(a)];
  };
  const over = (top, bottom) => top.slice(0, 3).map((c, i) => c * top[3] + bottom[i] * (1 - top[3])).concat(1);
  const background = (el) => {
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const bg = parse(getComputedStyle(node).backgroundColor);
      if (bg && bg[3] > 0) { layers.push(bg); if (bg[3] === 1) break; }
    }
    return layers.reverse().reduce((below, layer) => over(layer, below), [255, 255, 255, 1]);
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };

  if (!document.documentElement.lang) problems.push('<html> has no lang');
  if (!document.title.trim()) problems.push('the page has no title');
  const h1s = [...document.querySelectorAll('h1')].filter(visible);
  if (h1s.length !== 1) problems.push(`${h1s.length} visible h1 elements, not 1`);

  // Contrast of every visible element that draws text itself. Disabled controls are exempt (WCAG 1.4.3).
  for (const el of document.querySelectorAll('body *')) {
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!ownText || !visible(el) || el.closest(':disabled')) continue;
    const style = getComputedStyle(el);
    let fg = parse(style.color);
    if (!fg) continue;
    const bg = background(el);
    fg = over(fg, bg);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const needed = large ? 3 : 4.5;
    const got = ratio(fg, bg);
    if (got < needed) problems.push(`contrast ${got.toFixed(2)}:1 < ${needed}:1 for ${describe(el)}`);
  }

  // A name for every control a learner can operate.
  const controls = 'input, select, textarea, button, [contenteditable=true], [role=button]';
  for (const el of document.querySelectorAll(controls)) {
    if (!visible(el) || el.type === 'hidden') continue;
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      || (['BUTTON'].includes(el.tagName) || el.getAttribute('role') === 'button') && el.innerText.trim()
      || ['submit', 'button'].includes(el.type) && el.value;
    if (!named) problems.push(`no accessible name: ${describe(el)}`);
  }

  // Buttons big enough to hit on a phone (links styled as text are inline text, not targets).
  for (const el of document.querySelectorAll('button, .button, input[type=submit]')) {
    if (!visible(el) || el.classList.contains('link-button')) continue;
    const height = el.getBoundingClientRect().height;
    if (height < 43.5) problems.push(`button ${height.toFixed(0)} px high < 44 px: ${describe(el)}`);
  }
  // Nothing wider than the screen: a phone never scrolls sideways (code blocks scroll inside themselves).
  const overflow = document.documentElement.scrollWidth - document.documentElement.clientWidth;
  if (overflow > 0) problems.push(`the page is ${overflow} px wider than the window`);
  return problems;
}
"""

FOCUS_RING = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const again = el.dataset.auditFocused === 'yes';
  el.dataset.auditFocused = 'yes';
  const style = getComputedStyle(el);
  const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2) || style.boxShadow !== 'none';
  const label = (el.innerText || el.value || el.name || el.id || '').trim().split('\\n')[0].slice(0, 30);
  return {ring, again, what: `<${el.tagName.toLowerCase()}> ${label}`, editor: el.isContentEditable};
}
"""


def audit(page: Page, where: str) -> list[str]:
    return [f"{where}: {problem}" for problem in page.evaluate(AUDIT)]


def focus_rings(page: Page, where: str, stops: int = 60) -> list[str]:
    """Tab round the page's whole focus order (until an element comes back); every stop must show a ring."""
    page.evaluate("() => document.querySelectorAll('[data-audit-focused]').forEach(e => delete e.dataset.auditFocused)")
    problems, seen = [], []
    for _ in range(stops):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_RING)
        if focused is None:  # between the last stop and the first, focus leaves the page
            continue
        if focused["again"]:
            break
        seen.append(focused["what"])
        if not focused["ring"]:
            problems.append(f"{where}: no visible focus ring on {focused['what']}")
        if focused["editor"]:  # Tab indents in the code editor; Escape first lets Tab move on
            page.keyboard.press("Escape")
    else:
        problems.append(f"{where}: Tab never came back round after {stops} presses: {seen[-3:]}")
    if len(seen) < 2:
        problems.append(f"{where}: the keyboard reaches {len(seen)} element(s): {seen}")
    return problems


PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def browser_context_options(request):
    """Every test of this module runs on a desktop window and on a phone (the `page` fixture, conftest.py)."""
    return {"viewport": request.param}


def log_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    expect(page.locator("h1")).to_contain_text("Today")


CODE_ANSWER = """It blocks the loop.

```python
import asyncio

async def main():
    await asyncio.sleep(0.1)  # yields
    return "done"
```
"""


def failing_verdict() -> dict:
    checks = (
        Check("results", True, {"right": 10, "calls": 10}, "All 10 results were exactly the JSON the server sent."),
        Check("loop", False, {"blocked_ms": 2481}, "The event loop was blocked for 2,481 ms."),
    )
    feedback = "Line 5, `requests.get(url)`, held the event loop for 250 ms per call."
    output = {"stdout": "fetching 1\n", "stderr": "Traceback (most recent call last):\nKeyError: 'id'\n"}
    return Verdict(passed=False, quality=2, checks=checks, feedback=feedback, output=output).to_dict()


def test_every_learner_page_passes_the_audit(page):
    problems: list[str] = []
    for path in (
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/accounts/password/reset/MQ/bogus-token/",
        "/reminders/unsubscribe/not-a-token/",
    ):
        page.goto(path)
        problems += audit(page, path) + focus_rings(page, path)

    user = make_user(password=PASSWORD)
    deck = make_deck()
    make_card(
        deck=deck,
        position=1,
        question="Why is `requests.get` a trap inside `async def`?",
        answer=CODE_ANSWER,
        tags=["event-loop"],
    )
    # A card of the same concept seen before and not due for a month: the concept's practice pass shows it.
    seen = make_card(
        deck=deck, position=2, question="What does `await` give up?", answer="The loop.", tags=["event-loop"]
    )
    make_state(
        user=user,
        card=seen,
        due_on=dt.date.today() + dt.timedelta(days=30),
        repetitions=3,
        interval=30,
        last_reviewed_on=dt.date.today() - dt.timedelta(days=1),
    )
    challenge = make_challenge(slug="blocking-call", title="The blocking call")
    attempt = make_submission(
        user=user,
        challenge=challenge,
        code="import requests\n\nasync def get_data(url):\n    return requests.get(url).json()  # blocks\n",
        status=Submission.Status.GRADED,
        verdict=failing_verdict(),
        passed=False,
        quality=2,
        finished_at=timezone.now() - dt.timedelta(minutes=1),
    )
    page.goto("/")  # the front page a visitor gets, with the card above as its sample
    page.locator(".sample-reveal summary").click()
    problems += audit(page, "/ (visitor)") + focus_rings(page, "/ (visitor)")
    log_in(page, user.username)
    pages = (
        "/",
        "/challenges/",
        f"/challenges/{challenge.slug}/",
        f"/submissions/{attempt.pk}/",
        "/settings/",
        "/stats/",
        "/review/concept/event-loop/",
    )
    for path in (*pages, "/accounts/password/change/"):
        page.goto(path)
        problems += audit(page, path) + focus_rings(page, path)

    page.goto("/review/concept/event-loop/")  # a practice card, its answer shown
    expect(page.locator(".practice-note")).to_be_visible()
    page.keyboard.press("Space")
    expect(page.locator("#reveal .card-answer")).to_be_visible()
    # The answer takes focus on "toggle", a task after Space: wait, or a Tab below races it.
    expect(page.locator("#reveal .card-answer")).to_be_focused()
    problems += audit(page, "concept practice answer") + focus_rings(page, "concept practice answer")

    page.goto(f"/challenges/{challenge.slug}/")
    page.click("#show-me-button")  # the answer section, swapped in
    expect(page.locator("#answer h2")).to_be_visible()
    problems += audit(page, "challenge answer") + focus_rings(page, "challenge answer")

    page.goto("/review/")
    problems += audit(page, "review question")
    page.keyboard.press("Space")
    expect(page.locator("#reveal .card-answer")).to_be_visible()
    # The answer takes focus on "toggle", a task after Space: wait, or a Tab below races it.
    expect(page.locator("#reveal .card-answer")).to_be_focused()
    problems += audit(page, "review answer") + focus_rings(page, "review answer")
    for _ in range(3):  # the card above, then the challenge's practice card
        if page.locator("#done-heading").count():
            break
        # Space only on a card not yet revealed: on a revealed one, Space activates the focused control
        # (after the focus audit, a grade button: a real answer, racing the "5" below).
        if not page.locator("#reveal .card-answer").is_visible():
            page.keyboard.press("Space")
            expect(page.locator("#reveal .card-answer")).to_be_visible()
            # The answer takes focus on "toggle", a task after Space: wait, or a Tab below races it.
            expect(page.locator("#reveal .card-answer")).to_be_focused()
        token = page.locator("#review-session [data-render]").get_attribute("data-render")
        page.keyboard.press("5")
        page.wait_for_function(
            "token => document.querySelector('#review-session [data-render]')?.dataset.render !== token", arg=token
        )
    expect(page.locator("#done-heading")).to_be_visible()
    problems += audit(page, "done for today") + focus_rings(page, "done for today")

    assert problems == [], "\n".join(problems)


def test_the_audit_catches_low_contrast_a_nameless_control_a_hidden_focus_ring_and_overflow(page):
    """The checks above can fail: the same audit on a page broken on purpose."""
    page.goto("/accounts/login/")
    page.evaluate(
        """() => {
          document.querySelector('label[for=id_username]').remove();
          document.querySelector('h1').style.color = '#bbbbbb';
          document.querySelector('#id_password').style.setProperty('outline', 'none', 'important');
          const wide = document.createElement('div');
          wide.style.width = '3000px';
          wide.style.height = '1px';
          document.querySelector('main').append(wide);
        }"""
    )
    problems = audit(page, "broken") + focus_rings(page, "broken")

    assert any("contrast" in p and "<h1" in p for p in problems), problems
    assert any("no accessible name" in p and "id_username" in p for p in problems), problems
    assert any("no visible focus ring" in p and "<input>" in p for p in problems), problems
    assert any("wider than the window" in p for p in problems), problems
