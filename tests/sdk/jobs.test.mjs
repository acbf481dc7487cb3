// Jobs through the official Parse JS SDK: Parse.Cloud.startJob answers the job status id at
// once, and Parse.Cloud.getJobStatus (the master key, as the SDK sends it) shows the run's
// `_JobStatus` until it has succeeded or failed. The server's cloud module defines sdkJob and
// sdkFailingJob (tests/sdk/cloud/main.py; for Parse Server, tests/sdk/cloud/main.js).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Parse, OBJECT_ID_RE, expectParseError } from './helpers.mjs';

async function finished(jobStatusId) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const status = await Parse.Cloud.getJobStatus(jobStatusId);
    if (status.get('status') !== 'running') return status;
    if (Date.now() > deadline) throw new Error(`job ${jobStatusId} still running`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Parse.Cloud.startJob', () => {
  test('a job runs after the answer and its status ends succeeded with its message', async () => {
    const when = new Date('2031-02-03T04:05:06.000Z');
    const jobStatusId = await Parse.Cloud.startJob('sdkJob', { n: 7, when });
    assert.match(jobStatusId, OBJECT_ID_RE);
    const status = await finished(jobStatusId);
    assert.equal(status.className, '_JobStatus');
    assert.equal(status.get('jobName'), 'sdkJob');
    assert.equal(status.get('source'), 'api');
    assert.equal(status.get('status'), 'succeeded');
    assert.equal(status.get('message'), 'done 7 2031');
    assert.ok(status.get('finishedAt') instanceof Date);
    assert.ok(status.get('finishedAt') >= status.createdAt);
  });

  test('a failing job ends failed with its error message', async () => {
    const status = await finished(await Parse.Cloud.startJob('sdkFailingJob', {}));
    assert.equal(status.get('status'), 'failed');
    assert.equal(status.get('message'), 'this job always fails');
  });

  test('an unknown job is 141 Invalid job', async () => {
    const err = await expectParseError(Parse.Cloud.startJob('noSuchJob', {}), 141);
    assert.equal(err.message, 'Invalid job.');
  });

  test('a client without the master key may not read job statuses at all', async () => {
    const jobStatusId = await Parse.Cloud.startJob('sdkJob', { n: 1, when: new Date() });
    await finished(jobStatusId);
    const asClient = { useMasterKey: false };
    const err = await expectParseError(new Parse.Query('_JobStatus').get(jobStatusId, asClient), 119);
    assert.equal(err.message, 'Permission denied');
    await expectParseError(new Parse.Query('_JobStatus').find(asClient), 119);
  });

  test('the jobs data names the deployed jobs', async () => {
    const data = await Parse.Cloud.getJobsData();
    assert.ok(data.jobs.includes('sdkJob') && data.jobs.includes('sdkFailingJob'));
    assert.ok(Array.isArray(data.in_use));
  });
});
