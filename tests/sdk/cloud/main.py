"""Cloud Code of the session server (tests/conftest.py: PARSNIP_SERVER_ARGS), the Python twin of
the reference Parse Server's cloud/main.js, so tests/sdk/functions.test.mjs passes on both."""

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
    return f"done {req.params.get('n')} {req.params['when'].year}"


@cloud.job("sdkFailingJob")
async def sdk_failing_job(req):
    raise ParseError(ParseError.VALIDATION_ERROR, "this job always fails")
