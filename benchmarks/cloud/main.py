"""Cloud Code for `benchmarks/cloud_bench.py` on Parsnip: the Python twin of the reference Parse
Server's cloud/main.js (hello, sum, whoami, echo, fails, masterOnly; Review, Counter, Locked),
plus the benchmark's class `BenchHooked`, which `main.js` beside this file adds to the peer's.

    parsnip --cloud benchmarks/cloud/main.py ...
"""

from parsnip.cloud import Cloud, ParseError, ParseObject

cloud = Cloud()


@cloud.define("hello")
async def hello(req):
    return "Hello world!"


@cloud.define("sum")
async def add(req):
    a, b = req.params.get("a"), req.params.get("b")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
        raise ParseError(ParseError.VALIDATION_ERROR, "a and b must be numbers")
    return a + b


@cloud.define("whoami")
async def whoami(req):
    return req.user.get("username") if req.user is not None else None


@cloud.define("echo")
async def echo(req):
    return req.params


@cloud.define("fails")
async def fails(req):
    raise Exception("This function always fails")


@cloud.define("masterOnly")
async def master_only(req):
    if not req.master:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "master key required")
    return "ok"


@cloud.before_save("Review")
async def review(req):
    stars = req.object.get("stars")
    if not isinstance(stars, (int, float)) or isinstance(stars, bool) or not 1 <= stars <= 5:
        raise ParseError(ParseError.VALIDATION_ERROR, "stars must be between 1 and 5")
    comment = req.object.get("comment")
    if isinstance(comment, str) and comment != comment.strip():
        req.object.set("comment", comment.strip())


@cloud.after_save("Counter")
async def counter(req):
    log = ParseObject("AuditLog")
    log.set("target", req.object.id)
    log.set("action", "update" if req.original is not None else "create")
    await log.save(master=True)


@cloud.before_delete("Locked")
async def locked(req):
    if req.object.get("locked") is True:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "object is locked")


# The benchmark's class: a trivial before_save, and an after_save that writes another object.
@cloud.before_save("BenchHooked")
async def bench_check(req):
    req.object.set("checked", True)


@cloud.after_save("BenchHooked")
async def bench_audit(req):
    audit = ParseObject("BenchAudit")
    audit.set("target", req.object.id)
    await audit.save(master=True)
