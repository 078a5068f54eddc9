"""``esimdesk send ICCID_OR_ORDER_ID --to ADDRESS [--language xx] [--again] [--json]`` (issue 30): e-mail an
eSIM, or every eSIM of an order, to the customer through Settings → E-mail's SMTP server (in the demo its local
mail sink). Exit 0 when the server accepted it, 1 when it was refused, not sent, already sent (``--again`` is
the agent's word to send it once more) or may have been sent; 2 for usage errors. With ``--json``: one
document on stdout, also on failure."""

from __future__ import annotations

import asyncio

from esimdesk.cli.output import print_json
from esimdesk.cli.session import say
from esimdesk.services.desk import Desk
from esimdesk.services.mail import MailRefused
from esimdesk.services.runtime import open_context


def cmd_send(args) -> int:
    desk = Desk(open_context(getattr(args, "demo", False)))
    try:
        mail = desk.mail()
        try:
            result = asyncio.run(mail.send(args.target, args.to, args.language, again=args.again))
        except MailRefused as refused:
            say(args, str(refused))
            if args.json:
                d = refused.delivery
                print_json({"target": args.target, "to": args.to,
                            # REFUSED: refused here, before anything was recorded or sent.
                            "status": d.state.value.lower() if d else "refused",
                            "needs_again": refused.needs_word, "id": d.id if d else None,
                            "message_id": d.message_id if d else None, "error": str(refused)})
            return 1
        if args.json:
            print_json(result.to_json())
        else:
            print(result.message)
        if desk.ctx.demo and desk.ctx.mailbox is not None:
            say(args, f"demo: the e-mail is in {desk.ctx.mailbox} (the window's Demo mailbox shows it)")
        return 0
    finally:
        desk.close()
