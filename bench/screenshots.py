"""Render the README screenshots: the demo desk under a real display (Xvfb), one PNG per tab, after
two orders were placed from the command line (they show at the top of Orders); then the order dialog for
the cheapest Japan plan and the window that shows the order's progress and its QR code.

Run: DISPLAY=:99 python bench/screenshots.py docs/   (start `Xvfb :99 -screen 0 1400x900x24` first)
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path


def place_two_orders_from_the_cli() -> list[str]:
    """As a new user would: sync the demo, then two orders in separate commands (one demo world)."""
    import json
    import subprocess

    cli = [sys.executable, "-m", "esimdesk", "--demo"]
    subprocess.run([*cli, "sync"], check=True, capture_output=True)
    plans = json.loads(subprocess.run([*cli, "plans", "--vendor", "roumio", "--country", "JP", "--json"],
                                      check=True, capture_output=True, text=True).stdout)
    ids = []
    for plan in plans[:2]:
        done = subprocess.run([*cli, "order", "--vendor", "roumio", "--plan", plan["plan_id"], "--json"],
                              check=True, capture_output=True, text=True)
        ids.append(json.loads(done.stdout)["order_id"])
    return ids


def price_in_euros_with_a_rule(home: Path) -> None:
    """The agent's currency EUR (the ECB's rates, fetched by the sync) and a reseller's rule: +30 %, up to .99."""
    from decimal import Decimal

    from esimdesk.domain.pricing import PriceRule
    from esimdesk.services.currency import save_price_rules
    from esimdesk.services.preferences import Rates, save_preferences

    save_preferences(home, rates=Rates("EUR"))
    save_price_rules(home, [PriceRule(markup_pct=Decimal(30), rounding="99")])


def main(out: Path) -> None:
    os.environ.setdefault("ESIMDESK_HOME", tempfile.mkdtemp())
    ordered = place_two_orders_from_the_cli()
    from PySide6.QtWidgets import QApplication

    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import open_context
    from esimdesk.ui.app import ui_settings
    from esimdesk.ui.event_loop import DeskEventLoop
    from esimdesk.ui.main_window import MainWindow

    app = QApplication(sys.argv)
    loop = DeskEventLoop(app)
    asyncio.set_event_loop(loop)
    ctx = open_context(demo=True)
    price_in_euros_with_a_rule(ctx.home)
    desk = Desk(ctx)
    window = MainWindow(ui_settings(ctx.home), desk, demo=True)
    window.resize(1320, 780)
    window.show()

    async def shoot() -> None:
        await window.startup(sync=True)
        await asyncio.sleep(0.5)
        window.catalog.search.setText("japan 7 days 5gb")  # read as Japan, at least 7 days and 5 GB
        await asyncio.sleep(0.8)
        window.catalog.table.selectRow(0)  # the cheapest of every vendor, in euros
        await asyncio.sleep(0.4)
        window.grab().save(str(out / "screenshot.png"))
        window.tabs.setCurrentIndex(2)
        fleet = window.fleet.model  # an active Roumio eSIM: its support actions are enabled
        active = next((r for r in range(min(fleet.rowCount(), 400)) if fleet.item(r).vendor == "roumio"
                       and fleet.item(r).status.value == "ACTIVE"), 2)
        window.fleet.table.selectRow(active)
        await asyncio.sleep(0.3)
        window.grab().save(str(out / "fleet.png"))
        window.tabs.setCurrentIndex(1)
        window.orders.table.selectRow(0)  # newest first: the second order placed from the CLI
        await asyncio.sleep(0.3)
        window.grab().save(str(out / "orders.png"))
        print("orders placed from the CLI:", ", ".join(ordered))
        await shoot_order_dialog()
        window.close()

    async def shoot_order_dialog() -> None:
        from esimdesk.domain import ListingQuery
        from esimdesk.ui.order_dialog import OrderDialog

        head = await desk.listing_head(ListingQuery("plans", vendor="roumio", country="JP", sort="price"), 1)
        plan = head.rows[0][1]
        dialog = OrderDialog(plan, desk, window.catalog.pricing, parent=window)
        dialog.quantity.setValue(2)
        dialog.reference.setText("TCK-1001")
        dialog.note.setText("Ms Tanaka, Tokyo 3-10 Dec")
        dialog.show()
        for _ in range(100):  # the balance is asked live
            if dialog.balance_before is not None:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        dialog.grab().save(str(out / "order-dialog.png"))
        quantity, reference, note = dialog.values()
        dialog.accept()
        await window.place_order(plan, quantity, reference=reference, note=note)
        shown = window.order_progress
        while shown.esims.drawing():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        shown.grab().save(str(out / "order-result.png"))
        shown.close()

    with loop:
        loop.run_until_complete(shoot())
    desk.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
