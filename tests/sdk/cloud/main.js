/* global Parse */
// The reference Parse Server's twin of tests/sdk/cloud/main.py beyond the peer's own
// cloud/main.js (hello, sum, whoami, echo, fails, masterOnly, Review, Counter, Locked):
// append it to that file in a private copy of the peer to run tests/sdk/triggers.test.mjs and
// tests/sdk/jobs.test.mjs against Parse Server (tests/sdk/test_js_sdk.py says how).

// Jobs (jobs.test.mjs): Parse.Cloud.startJob, then Parse.Cloud.getJobStatus.
Parse.Cloud.job('sdkJob', async request => {
  await request.message('working');
  return `done ${request.params.n} ${new Date(request.params.when.iso ?? request.params.when).getUTCFullYear()}`;
});

Parse.Cloud.job('sdkFailingJob', () => {
  throw new Parse.Error(Parse.Error.VALIDATION_ERROR, 'this job always fails');
});

// triggers.test.mjs
const trigContexts = [];

Parse.Cloud.beforeSave('TrigContext', request => {
  trigContexts.push({ trigger: 'beforeSave', context: { ...request.context } });
  request.context.addedBy = 'beforeSave';
});

Parse.Cloud.afterSave('TrigContext', request => {
  trigContexts.push({ trigger: 'afterSave', id: request.object.id, context: { ...request.context } });
});

Parse.Cloud.afterDelete('TrigContext', request => {
  trigContexts.push({ trigger: 'afterDelete', id: request.object.id, context: { ...request.context } });
});

Parse.Cloud.define('trigContexts', request =>
  trigContexts.filter(c => c.context.marker === request.params.marker));

Parse.Cloud.beforeFind('TrigSecret', request => {
  if (!request.master) {
    request.query.equalTo('public', true);
  }
});

Parse.Cloud.afterFind('TrigSecret', request => {
  for (const obj of request.objects) {
    obj.set('seen', true);
  }
});

Parse.Cloud.beforeFind('TrigTop', request => {
  request.query.descending('n').limit(2);
});

Parse.Cloud.afterFind('TrigFirst', request => request.objects.slice(0, 1));

const nothing = () => {};
Parse.Cloud.beforeSave('TrigMaster', nothing, { requireMaster: true });
Parse.Cloud.beforeSave('TrigUser', nothing, { requireUser: true });
Parse.Cloud.beforeSave('TrigFields', nothing, {
  fields: { stars: { type: Number, required: true, options: [1, 2, 3] }, label: { default: 'none' } },
});
Parse.Cloud.beforeSave('TrigRoles', nothing, { requireAnyUserRoles: ['trigAdmin'] });
Parse.Cloud.beforeSave('TrigKeys', nothing, { requireUserKeys: ['nickname'] });
Parse.Cloud.beforeSave('TrigConstant', nothing, { fields: { kind: { constant: true, default: 'basic' } } });

Parse.Cloud.beforeSave('TrigSkip', () => {
  throw new Parse.Error(Parse.Error.VALIDATION_ERROR, 'only with the master key');
}, { skipWithMasterKey: true });
