"""Cloud Code in Python: register functions, jobs and triggers on a `Cloud`, in the module
Parse's option `cloud` names (`parsnip --cloud main.py`, PARSE_SERVER_CLOUD, "cloud" in the
JSON file). The loader takes the module's attribute `cloud`. `ParseObject` and `ParseQuery`
read and write objects in-process, as the master key (`master=True`), a session's user
(`session_token=`) or, by default, a client with no session.

    from parsnip.cloud import Cloud, ParseError, ParseObject, ParseQuery

    cloud = Cloud()

    @cloud.define("hello")
    async def hello(req):
        return "Hello world!"
"""

from __future__ import annotations

from parsnip.core.cloud.file_triggers import FileTriggerRequest, ParseFile
from parsnip.core.cloud.objects import ParseObject
from parsnip.core.cloud.query import ParseQuery
from parsnip.core.cloud.registry import Cloud
from parsnip.core.cloud.requests import FunctionRequest
from parsnip.core.errors import ParseError

__all__ = ["Cloud", "FileTriggerRequest", "FunctionRequest", "ParseError", "ParseFile", "ParseObject", "ParseQuery"]
