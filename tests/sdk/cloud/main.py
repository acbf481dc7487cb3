"""Cloud Code of the session server (tests/conftest.py: PARSNIP_SERVER_ARGS), the Python twin of
the reference Parse Server's cloud/main.js, so tests/sdk/functions.test.mjs passes on both."""

from parsnip.cloud import Cloud, ParseError

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


# Jobs (tests/sdk/jobs.test.mjs): Parse.Cloud.startJob, then Parse.Cloud.getJobStatus.
@cloud.job("sdkJob")
async def sdk_job(req):
    await req.message("working")
    return f"done {req.params.get('n')} {req.params['when'].year}"


@cloud.job("sdkFailingJob")
async def sdk_failing_job(req):
    raise ParseError(ParseError.VALIDATION_ERROR, "this job always fails")
