"""Cloud Code of the session server (tests/conftest.py: PARSNIP_SERVER_ARGS), the Python twin of
the reference Parse Server's cloud/main.js, so tests/sdk/functions.test.mjs passes on both."""

from datetime import datetime, timezone

from parsnip.cloud import Cloud, ParseError, ParseObject

cloud = Cloud()


@cloud.define("hello")
async def hello(req):
    return "Hello world!"


@cloud.define("sum")
async def add(req):
    a, b = req.params.get("a"), req.params.get("b")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    if not numbers:
        raise ParseError(ParseError.VALIDATION_ERROR, "a and b must be numbers")
    return a + b


@cloud.define("whoami")
async def whoami(req):
    return req.user.get("username") if req.user is not None else None


@cloud.define("echo")
async def echo(req):
    return req.params


@cloud.define("fails")
def fails(req):
    raise Exception("This function always fails")


@cloud.define("masterOnly")
async def master_only(req):
    if not req.master:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "master key required")
    return "ok"


@cloud.before_save("Review")
async def check(req):
    stars = req.object.get("stars")
    if isinstance(stars, bool) or not isinstance(stars, (int, float)) or not 1 <= stars <= 5:
        raise ParseError(ParseError.VALIDATION_ERROR, "stars must be between 1 and 5")
    comment = req.object.get("comment")
    if isinstance(comment, str) and comment != comment.strip():
        req.object.set("comment", comment.strip())


@cloud.after_save("Counter")
async def audit(req):
    log = ParseObject("AuditLog")
    log.set("target", req.object.id)
    log.set("action", "update" if req.original is not None else "create")
    await log.save(master=True)


# Jobs (tests/sdk/jobs.test.mjs): Parse.Cloud.startJob, then Parse.Cloud.getJobStatus.
@cloud.job("sdkJob")
async def sdk_job(req):
    await req.message("working")
    # As its twin's `new Date(when.iso ?? when)`: the Dashboard's Run sends `when: 0` (the epoch)
    # beside its own keys, and no `n`.
    when = req.params.get("when")
    year = when.year if isinstance(when, datetime) else datetime.fromtimestamp((when or 0) / 1000, timezone.utc).year
    return f"done {req.params.get('n', 'undefined')} {year}"


@cloud.job("sdkFailingJob")
async def sdk_failing_job(req):
    raise ParseError(ParseError.VALIDATION_ERROR, "this job always fails")


@cloud.before_delete("Locked")
async def locked(req):
    if req.object.get("locked") is True:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "object is locked")


# -- tests/sdk/triggers.test.mjs (Parse Server's twin: tests/sdk/cloud/main.js) ----------------

TRIG_CONTEXTS: list = []


@cloud.before_save("TrigContext")
async def trig_context_before(req):
    TRIG_CONTEXTS.append({"trigger": "beforeSave", "context": dict(req.context)})
    req.context["addedBy"] = "beforeSave"


@cloud.after_save("TrigContext")
async def trig_context_after(req):
    TRIG_CONTEXTS.append({"trigger": "afterSave", "id": req.object.id, "context": dict(req.context)})


@cloud.after_delete("TrigContext")
async def trig_context_deleted(req):
    TRIG_CONTEXTS.append({"trigger": "afterDelete", "id": req.object.id, "context": dict(req.context)})


@cloud.define("trigContexts")
async def trig_contexts(req):
    return [c for c in TRIG_CONTEXTS if c["context"].get("marker") == req.params.get("marker")]


@cloud.before_find("TrigSecret")
async def trig_secret(req):
    if not req.master:
        req.query.equal_to("public", True)


@cloud.after_find("TrigSecret")
async def trig_secret_seen(req):
    for obj in req.objects:
        obj.set("seen", True)


@cloud.before_find("TrigTop")
async def trig_top(req):
    req.query.descending("n").limit(2)


@cloud.after_find("TrigFirst")
async def trig_first(req):
    return req.objects[:1]


async def _nothing(req):
    pass


cloud.before_save("TrigMaster", require_master=True)(_nothing)
cloud.before_save("TrigUser", require_user=True)(_nothing)
cloud.before_save("TrigFields", fields={"stars": {"type": int, "required": True, "options": [1, 2, 3]},
                                        "label": {"default": "none"}})(_nothing)
cloud.before_save("TrigRoles", require_any_user_roles=["trigAdmin"])(_nothing)
cloud.before_save("TrigKeys", require_user_keys=["nickname"])(_nothing)
cloud.before_save("TrigConstant", fields={"kind": {"constant": True, "default": "basic"}})(_nothing)


@cloud.before_save("TrigSkip", skip_with_master_key=True)
async def trig_skip(req):
    raise ParseError(ParseError.VALIDATION_ERROR, "only with the master key")
