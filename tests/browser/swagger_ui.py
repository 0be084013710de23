"""Swagger UI at a proxy's `/docs`, in Debian's headless chromium, driven by
playwright (tests/docs_browser.rs runs it with target/test-tools/browser-venv).

Usage: swagger_ui.py PLAN_JSON, where the plan is

    {"docs_url": "http://127.0.0.1:PORT/docs",
     "key": "the --api-key",
     "try": {"tool": "get_current_time", "body": {...}},
     "screenshot": "target/test-artifacts/NAME.png",
     "host_rules": "MAP docs.example 127.0.0.1"}      (optional)

It opens the page in a fresh profile, waits for Swagger UI to render,
expands every operation, enters the key under "Authorize", runs "Try it out"
on one tool and prints what it saw as one JSON object on stdout: every
request the browser made (any page, any kind), the operations and schema
names shown, errors shown on the page or logged to its console, and the
live response. The assertions are the Rust test's; this only looks.
"""

import json
import sys
import tempfile
import time
import traceback

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
# As the machine notes give them: without the background-networking flags
# chromium keeps trying to reach Google's hosts. --no-proxy-server: a proxy
# configured for the machine must not see (or serve) the pages under test.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
# Generous: CI runs this beside another test binary on two cores.
TIMEOUT_MS = 45_000
# Swagger UI 5's markup for OpenAPI 3.1: a body's "Example Value" / "Schema"
# tabs, and the name shown at the top of a schema.
REQUEST_BODY = ".opblock .opblock-section-request-body"
OK_RESPONSE = '.opblock .responses-table tr.response[data-code="200"]'
SCHEMA_TAB = 'button.tablinks[data-name="model"]'
SCHEMA_TITLE = 'article[data-json-schema-level="0"] > .json-schema-2020-12-head .json-schema-2020-12__title'


def main() -> None:
    plan = json.loads(sys.argv[1])
    args = list(FLAGS)
    if plan.get("host_rules"):
        args.append(f"--host-resolver-rules={plan['host_rules']}")
    report = {"requests": [], "failed_requests": [], "console_errors": []}
    with tempfile.TemporaryDirectory(prefix="mcpo-docs-browser-") as profile, sync_playwright() as playwright:
        # A persistent context is how playwright takes a --user-data-dir: a
        # fresh, empty one per run.
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=args,
            viewport={"width": 1280, "height": 900},
        )
        try:
            run(context, plan, report)
        except Exception:
            # The error first: keeping the page's picture may fail too (a
            # page with every operation open is slow to shoot).
            traceback.print_exc()
            print(json.dumps(report, indent=2), file=sys.stderr)
            page = context.pages[0] if context.pages else None
            if page is not None:
                failed = plan["screenshot"].removesuffix(".png") + "-failed"
                with open(failed + ".html", "w", encoding="utf-8") as html:
                    html.write(page.content())
                try:
                    page.screenshot(path=failed + ".png", timeout=10_000)
                except Exception as error:  # noqa: BLE001 - the first error is the one reported
                    print(f"swagger_ui.py: no screenshot of the failed page: {error}", file=sys.stderr)
                print(f"swagger_ui.py: the page as it failed: {failed}.png, {failed}.html", file=sys.stderr)
            sys.exit(1)
        finally:
            context.close()
    json.dump(report, sys.stdout, indent=2)
    print()


def run(context, plan: dict, report: dict) -> None:
    # Context-wide, so requests of any page, worker or popup count too.
    context.on("request", lambda request: report["requests"].append(
        {"url": request.url, "method": request.method, "type": request.resource_type}))
    context.on("requestfailed", lambda request: report["failed_requests"].append(
        {"url": request.url, "failure": request.failure}))
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("console", lambda message: message.type == "error" and report["console_errors"].append(message.text))
    page.on("pageerror", lambda error: report["console_errors"].append(f"page error: {error}"))

    started = time.monotonic()
    page.goto(plan["docs_url"], wait_until="networkidle")
    report["final_url"] = page.url
    page.wait_for_selector(".information-container .title")
    page.wait_for_selector(".opblock")
    page.wait_for_selector("section.models .json-schema-2020-12__title")
    report["title"] = page.inner_text(".information-container .title").strip()
    report["rendered_ms"] = round((time.monotonic() - started) * 1000)

    # Every operation, expanded, with the "Schema" tab of its request body
    # and of its 200 response open: the names shown there are the ones a
    # user reads. Clicked from inside the page, all at once (one by one
    # through playwright takes seconds per operation).
    page.eval_on_selector_all(".opblock .opblock-summary-control", "controls => controls.forEach(c => c.click())")
    page.wait_for_function(
        "() => document.querySelectorAll('.opblock').length"
        " === document.querySelectorAll('.opblock .opblock-body .responses-table').length")
    page.eval_on_selector_all(
        f"{REQUEST_BODY} {SCHEMA_TAB}, {OK_RESPONSE} {SCHEMA_TAB}", "tabs => tabs.forEach(t => t.click())")
    page.wait_for_function(
        """([sections, title]) => [...document.querySelectorAll(sections)]
            .every(section => !section.querySelector('button.tablinks') || section.querySelector(title))""",
        arg=[f"{REQUEST_BODY}, {OK_RESPONSE}", SCHEMA_TITLE])
    report["operations"] = page.eval_on_selector_all(
        ".opblock",
        """(blocks, [requestBody, okResponse, title]) => blocks.map(block => {
            const schema = selector => block.querySelector(`${selector} ${title}`)?.textContent.trim();
            return {
                method: block.querySelector('.opblock-summary-method').textContent.trim(),
                path: block.querySelector('.opblock-summary-path').getAttribute('data-path'),
                summary: block.querySelector('.opblock-summary-description')?.textContent.trim() ?? '',
                response_codes: [...block.querySelectorAll('.responses-table tr.response')]
                    .map(row => row.getAttribute('data-code')),
                request_schema: schema(requestBody),
                response_schema: schema(okResponse),
            };
        })""",
        [".opblock-section-request-body", 'tr.response[data-code="200"]', SCHEMA_TITLE],
    )
    # The "Schemas" section's names.
    report["schema_names"] = page.locator(f"section.models {SCHEMA_TITLE}").evaluate_all("titles => titles.map(t => t.textContent.trim())")
    # Spec and resolver errors Swagger UI shows at the top of the page.
    report["shown_errors"] = page.eval_on_selector_all(
        ".errors-wrapper .error-wrapper, .errors-wrapper .errors h4 ~ *",
        "errors => errors.map(e => e.textContent.trim())",
    )

    # Loaded again for "Try it out", so that the screenshot shows every
    # tool collapsed but the one called.
    page.goto(plan["docs_url"], wait_until="networkidle")
    page.wait_for_selector(".opblock")

    # Authorize with the key.
    page.click(".scheme-container .auth-wrapper button.authorize")
    modal = page.locator(".modal-ux")
    modal.locator("input").first.fill(plan["key"])
    modal.locator(".auth-btn-wrapper button.authorize").click()
    modal.locator("h6", has_text="Authorized").wait_for()
    modal.locator(".auth-btn-wrapper button.btn-done").click()
    modal.wait_for(state="detached")
    # The padlock Swagger UI shows once a key is entered.
    report["authorized"] = page.locator(".scheme-container .auth-wrapper button.authorize.locked").count() == 1

    # "Try it out" on one tool, then Execute.
    tool = plan["try"]["tool"]
    block = page.locator(".opblock", has=page.locator(f'.opblock-summary-path[data-path="/{tool}"]'))
    block.locator('.opblock-summary-control[aria-expanded="false"]').click()
    block.locator(".try-out__btn").click()
    body = block.locator("textarea.body-param__text")
    body.fill(json.dumps(plan["try"]["body"]))
    block.locator("button.execute").click()
    live = block.locator(".live-responses-table tbody tr.response")
    live.locator(".response-col_status").first.wait_for()
    report["try"] = {
        "status": live.locator(".response-col_status").first.inner_text().strip(),
        "body": live.locator(".response-col_description pre").first.inner_text().strip(),
        "request_url": block.locator(".request-url pre").first.inner_text().strip(),
        "curl": block.locator(".curl-command").first.inner_text().strip(),
    }
    block.locator(".live-responses-table").scroll_into_view_if_needed()
    report["try_ms"] = round((time.monotonic() - started) * 1000)
    page.screenshot(path=plan["screenshot"], full_page=True)
    report["screenshot"] = plan["screenshot"]


if __name__ == "__main__":
    main()
