// Helpers for queries.test.mjs: one shared, read-only dataset per describe
// block, in freshly named classes that are emptied when the block ends.

import { after, before } from 'node:test';

import { Parse, removeAllObjects, uniqueClassName } from './helpers.mjs';

/**
 * Registers, in the enclosing describe block, a `before` hook that builds a
 * dataset and an `after` hook that removes it. `build(newClass)` gets a
 * function returning fresh class names (each one cleaned up afterwards) and
 * returns an object whose properties are copied onto the returned `ds`,
 * which the tests of the block read once the hook has run.
 */
export function dataset(build) {
  const ds = {};
  const classes = [];
  const newClass = (prefix) => {
    const className = uniqueClassName(prefix);
    classes.push(className);
    return className;
  };
  before(async () => {
    Object.assign(ds, await build(newClass));
  });
  after(async () => {
    // Referencing objects first, so no dangling pointers are left behind.
    for (const className of [...classes].reverse()) {
      await removeAllObjects(className);
    }
  });
  return ds;
}

/**
 * Saves one object per row (each row is an attribute map with a unique
 * `name`) and returns them keyed by name.
 */
export async function saveRows(className, rows) {
  const objects = rows.map((row) => new Parse.Object(className, row));
  await Parse.Object.saveAll(objects);
  return Object.fromEntries(objects.map((o) => [o.get('name'), o]));
}

/** The `name`s of `objects`, sorted: for order-insensitive comparisons. */
export function names(objects) {
  return objects.map((o) => o.get('name')).sort();
}

/** The `name`s of `objects`, in the order the server returned them. */
export function inOrder(objects) {
  return objects.map((o) => o.get('name'));
}
