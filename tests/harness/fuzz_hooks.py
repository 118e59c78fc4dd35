"""Schemathesis hooks for `make fuzz`.

The one filter: request bodies that are not valid UTF-8. The local API Gateway emulator
(cargo lambda watch) refuses such bodies itself with a 500 before any function runs; API
Gateway instead hands them to the function base64-encoded, where the JSON body parser answers
400 (shared::http unit test `non_utf8_body_is_400`). Testing them here would test the emulator.
"""

import schemathesis


def _encodes_as_utf8(body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    if isinstance(body, str):
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


@schemathesis.hook
def filter_case(ctx, case):
    return _encodes_as_utf8(case.body)
