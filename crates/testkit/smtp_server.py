"""A test SMTP server (aiosmtpd) on 127.0.0.1 for the mail tests.

Writes each message it accepts to OUT as a JSON file (envelope, headers, decoded text and
HTML parts), renamed into place so a reader never sees half a file. Optional: STARTTLS
required (--cert/--key), AUTH required (--user/--password). Prints its port on the first line
of standard output, then serves until killed.
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        def part(kind):
            body = message.get_body(preferencelist=(kind,))
            return body.get_content() if body is not None else None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "to": str(message["To"]),
            "text": part("plain"),
            "html": part("html"),
            "tls": session.ssl is not None,
        }
        name = "%d-%04d" % (os.getpid(), self.count)
        tmp = os.path.join(self.out, name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.out, name + ".json"))
        return "250 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        # handled=False: aiosmtpd answers 535 itself on a refusal.
        return AuthResult(success=ok, handled=False)
    return check


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    args = p.parse_args()
    handler = Handler(args.out)
    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    def factory():
        options = {}
        if context is not None:
            options.update(tls_context=context, require_starttls=True)
        if args.user:
            options.update(
                authenticator=authenticator(args.user, args.password),
                auth_required=True,
                auth_require_tls=context is not None,
            )
        return SMTP(handler, hostname="smtp.test", **options)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host="127.0.0.1", port=args.port, reuse_address=True)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
