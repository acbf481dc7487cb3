/* global Parse */
// The benchmark class of benchmarks/cloud_bench.py, for the reference Parse Server: append this
// file to the peer's cloud/main.js (benchmarks/README.md says how). benchmarks/cloud/main.py is
// the same for Parsnip.

// A trivial beforeSave: the save response carries the field it sets, so the benchmark sees it ran.
Parse.Cloud.beforeSave('BenchHooked', request => {
  request.object.set('checked', true);
});

// An afterSave that writes another object.
Parse.Cloud.afterSave('BenchHooked', async request => {
  const audit = new Parse.Object('BenchAudit');
  audit.set('target', request.object.id);
  await audit.save(null, { useMasterKey: true });
});
