// Apollo Client 4's normalized cache as it comes (InMemoryCache with no options: the default
// dataIdFromObject, `${__typename}:${id}`, and no typePolicies) on the API's ids and errors:
// stock normalization must be right. Run by tests/e2e/test_node_clients.py, one test at a time
// (--test-name-pattern "^<prefix>: "), which sets up the data.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CombinedGraphQLErrors } from "@apollo/client";
import { apolloClient, post, subscribeWithApollo } from "./lib/clients.mjs";
import { setting, settings, token } from "./lib/env.mjs";
import { extended, operation } from "./lib/operations.mjs";

const TIMEOUT = { timeout: 30_000 };

// The contract's operations with what a frontend adds to them for its cache.
const GRADEBOOK_WITH_CELL_IDS = extended(operation("Gradebook"), ["gradebook", "rows", "cells"], "id");
const UPDATE_GRADE_WITH_CELL = extended(
  operation("UpdateGrade"),
  ["updateGrade"],
  "cell { id score letter version }",
);
const BULK_UPDATE_WITH_CELLS = extended(
  operation("BulkUpdateGrades"),
  ["bulkUpdateGrades"],
  "cells { id score letter version }",
);
const EVENTS_WITH_CELL = extended(
  operation("GradebookEvents"),
  ["gradebookEvents", "on GradeUpdated"],
  "cell { id score letter version }",
);

function cellOf(gradebook) {
  const row = gradebook.rows.find((r) => r.student.id === setting("CG_STUDENT_ID"));
  assert.ok(row, `no row for the student in ${JSON.stringify(gradebook.rows)}`);
  const cell = row.cells.find((c) => c.assignmentId === setting("CG_ASSIGNMENT_ID"));
  assert.ok(cell, `no cell for the quiz in ${JSON.stringify(row.cells)}`);
  return cell;
}

async function cachedGradebook(client) {
  const { data } = await client.query({
    query: GRADEBOOK_WITH_CELL_IDS,
    variables: { classId: setting("CG_CLASS_ID") },
    fetchPolicy: "cache-only",
  });
  assert.ok(data?.gradebook, "the gradebook is still complete in the cache");
  return data.gradebook;
}

const cellInput = () => ({ studentId: setting("CG_STUDENT_ID"), assignmentId: setting("CG_ASSIGNMENT_ID") });

const joinedBy = (name) => (data) =>
  data.gradebookEvents.__typename === "EditorsChanged" &&
  data.gradebookEvents.editors.some((e) => e.user.name === name);

/** `value` without the __typename fields Apollo adds to every selection. */
function withoutTypenames(value) {
  if (Array.isArray(value)) return value.map(withoutTypenames);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).filter(([key]) => key !== "__typename").map(([key, v]) => [key, withoutTypenames(v)]),
    );
  }
  return value;
}

/** Ids that the cache holds under more than one typename: {id: [cache keys]}. */
function idsUnderSeveralTypes(cache) {
  const keysById = new Map();
  for (const [key, value] of Object.entries(cache.extract())) {
    if (value && typeof value === "object" && "id" in value) {
      keysById.set(value.id, [...(keysById.get(value.id) ?? []), key]);
    }
  }
  return Object.fromEntries([...keysById].filter(([, keys]) => keys.length > 1));
}

test("dashboards: each student's missions and portfolio items stay that student's", TIMEOUT, async () => {
  const apollo = apolloClient({ token: token("teacher") });
  const query = operation("StudentDashboard");
  const students = settings("CG_DASHBOARD_STUDENT_IDS");
  try {
    const truth = {};
    for (const studentId of students) {
      // What the server says, and the same read through Apollo (which writes it to its cache).
      truth[studentId] = (await post(query, { studentId }, token("teacher"))).studentDashboard;
      const { data } = await apollo.client.query({ query, variables: { studentId } });
      assert.equal(data.studentDashboard.student.id, studentId);
      for (const section of ["missions", "portfolio"]) {
        assert.equal(truth[studentId][section].status, "OK", `${section} of ${studentId}`);
        assert.ok(truth[studentId][section].items.length > 0, `${section} of ${studentId} has items`);
      }
    }
    for (const studentId of students) {
      const { data } = await apollo.client.query({ query, variables: { studentId }, fetchPolicy: "cache-only" });
      for (const section of ["missions", "portfolio"]) {
        assert.deepEqual(
          withoutTypenames(data.studentDashboard[section].items),
          truth[studentId][section].items,
          `the cached ${section} of ${studentId} are that student's`,
        );
      }
    }
    const ids = students.flatMap((s) => ["missions", "portfolio"].flatMap((k) => truth[s][k].items.map((i) => i.id)));
    assert.equal(new Set(ids).size, ids.length, `item ids are unique across students: ${ids}`);
  } finally {
    await apollo.close();
  }
});

test("cell by mutation: UpdateGrade's cell updates the cached gradebook without a refetch", TIMEOUT, async () => {
  const apollo = apolloClient({ token: token("teacher") });
  const { client } = apollo;
  try {
    const { data: read } = await client.query({
      query: GRADEBOOK_WITH_CELL_IDS,
      variables: { classId: setting("CG_CLASS_ID") },
    });
    const before = cellOf(read.gradebook);
    assert.equal(before.score, null);
    const { data } = await client.mutate({
      mutation: UPDATE_GRADE_WITH_CELL,
      variables: { input: { ...cellInput(), score: 7.5, expectedVersion: before.version } },
    });
    assert.deepEqual(data.updateGrade.userErrors, []);
    assert.equal(data.updateGrade.cell.id, before.id, "the payload's cell is the gradebook's cell");
    const after = cellOf(await cachedGradebook(client));
    assert.equal(after.score, 7.5);
    assert.equal(after.version, before.version + 1);
    assert.equal(after.letter, data.updateGrade.grade.letter);
    assert.deepEqual(apollo.requests, ["Gradebook", "UpdateGrade"], "nothing was refetched");
  } finally {
    await apollo.close();
  }
});

test("cells by bulk mutation: BulkUpdateGrades' cells update the cached gradebook without a refetch", TIMEOUT, async () => {
  const apollo = apolloClient({ token: token("teacher") });
  const { client } = apollo;
  try {
    const classId = setting("CG_CLASS_ID");
    const { data: read } = await client.query({ query: GRADEBOOK_WITH_CELL_IDS, variables: { classId } });
    const before = cellOf(read.gradebook);
    const updates = [{ ...cellInput(), score: 4.5, expectedVersion: before.version }];
    const { data } = await client.mutate({ mutation: BULK_UPDATE_WITH_CELLS, variables: { input: { classId, updates } } });
    assert.deepEqual(data.bulkUpdateGrades.userErrors, []);
    assert.deepEqual(data.bulkUpdateGrades.cells.map((c) => c.id), [before.id], "the payload's cells are the gradebook's");
    const after = cellOf(await cachedGradebook(client));
    assert.equal(after.score, 4.5);
    assert.equal(after.version, before.version + 1);
    assert.deepEqual(apollo.requests, ["Gradebook", "BulkUpdateGrades"], "nothing was refetched");
  } finally {
    await apollo.close();
  }
});

test("cell by event: GradeUpdated's cell updates the cached gradebook without a refetch", TIMEOUT, async () => {
  const apollo = apolloClient({ token: token("teacher") });
  const { client } = apollo;
  const feed = subscribeWithApollo({
    document: EVENTS_WITH_CELL,
    variables: { classId: setting("CG_CLASS_ID") },
    apollo,
  });
  try {
    const { data: read } = await client.query({
      query: GRADEBOOK_WITH_CELL_IDS,
      variables: { classId: setting("CG_CLASS_ID") },
    });
    const before = cellOf(read.gradebook);
    await feed.next(joinedBy(setting("CG_TEACHER_NAME"))); // the subscription is live
    const input = { ...cellInput(), score: 6.5, expectedVersion: before.version };
    const written = (await post(operation("UpdateGrade"), { input }, token("other_teacher"))).updateGrade;
    assert.deepEqual(written.userErrors, []);
    const event = (await feed.next((data) => data.gradebookEvents.__typename === "GradeUpdated")).gradebookEvents;
    assert.equal(event.cell.id, before.id, "the event's cell is the gradebook's cell");
    const after = cellOf(await cachedGradebook(client));
    assert.equal(after.score, 6.5);
    assert.equal(after.version, before.version + 1);
    assert.deepEqual(apollo.requests, ["Gradebook"], "nothing was refetched");
  } finally {
    await feed.close();
    await apollo.close();
  }
});

test("users: a user seen as editor, lock holder, grade author, node and me is one cache entry", TIMEOUT, async () => {
  const apollo = apolloClient({ token: token("teacher") });
  const { client } = apollo;
  const classId = setting("CG_CLASS_ID");
  const feed = subscribeWithApollo({ document: operation("GradebookEvents"), variables: { classId }, apollo });
  try {
    const me = (await client.query({ query: operation("Me") })).data.me;
    const joined = await feed.next(joinedBy(me.name));
    assert.ok(joined.gradebookEvents.editors.some((e) => e.user.id === me.id), "an editor's user is the user");

    const locked = (await client.mutate({ mutation: operation("LockGradeCell"), variables: { input: cellInput() } }))
      .data.lockGradeCell;
    assert.deepEqual(locked.userErrors, []);
    assert.equal(locked.lock.holder.id, me.id, "the lock holder is the user");
    const cellLocked = await feed.next((data) => data.gradebookEvents.__typename === "CellLocked");
    assert.equal(cellLocked.gradebookEvents.holder.id, me.id);

    const gradebook = (await client.query({ query: operation("Gradebook"), variables: { classId } })).data.gradebook;
    const cell = cellOf(gradebook);
    assert.equal(cell.lock.holder.id, me.id);

    const input = { ...cellInput(), score: 5, expectedVersion: cell.version };
    const written = (await client.mutate({ mutation: operation("UpdateGrade"), variables: { input } })).data
      .updateGrade;
    assert.deepEqual(written.userErrors, []);
    assert.equal(written.grade.updatedBy.id, me.id, "the grade's author is the user");
    const updated = await feed.next((data) => data.gradebookEvents.__typename === "GradeUpdated");
    assert.equal(updated.gradebookEvents.by.id, me.id);

    const history = (
      await client.query({ query: operation("GradeHistory"), variables: { classId, ...cellInput() } })
    ).data.gradeHistory;
    assert.equal(history.at(-1).changedBy.id, me.id);
    const node = (await client.query({ query: operation("Node"), variables: { id: me.id } })).data.node;
    assert.equal(node.id, me.id);

    const entries = Object.entries(client.cache.extract()).filter(([, value]) => value?.id === me.id);
    assert.deepEqual(
      entries.map(([key, value]) => [key, value.__typename]),
      [[`User:${me.id}`, "User"]],
      "one entry, a User",
    );
    assert.deepEqual(idsUnderSeveralTypes(client.cache), {}, "no id is cached under two typenames");
  } finally {
    await feed.close();
    await apollo.close();
  }
});

/** The error a promise rejects with (fails when it resolves). */
async function rejection(promise) {
  try {
    const result = await promise;
    assert.fail(`expected a rejection, got ${JSON.stringify(result)}`);
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    return error;
  }
}

function described(error) {
  const { name, message, statusCode, bodyText } = error;
  return JSON.stringify({ name, message, statusCode, bodyText: bodyText?.slice(0, 300) });
}

/**
 * The refusal reaches the application as Apollo's CombinedGraphQLErrors, its code in
 * `error.errors[0].extensions.code`: what Apollo 4 makes of a body with `errors`. (A ServerError
 * has only `statusCode` and the raw `bodyText`.)
 */
function assertCodeReadable(error, code) {
  assert.ok(CombinedGraphQLErrors.is(error), `Apollo gave ${described(error)}, not CombinedGraphQLErrors`);
  assert.equal(error.errors[0]?.extensions?.code, code, described(error));
  assert.equal(error.data, undefined);
}

test("refusal PAYLOAD_TOO_LARGE: an over-large mutation's refusal reaches Apollo with its code", TIMEOUT, async () => {
  const apollo = apolloClient({ token: token("mentor") });
  try {
    // Refused while the body arrives, before anything is parsed: the id is never looked at.
    const body = "x".repeat(Number(setting("CG_MAX_BODY_BYTES")) + 1000);
    const input = { conversationId: "Q29udmVyc2F0aW9uOjE", body };
    const error = await rejection(apollo.client.mutate({ mutation: operation("SendMessage"), variables: { input } }));
    assertCodeReadable(error, "PAYLOAD_TOO_LARGE");
  } finally {
    await apollo.close();
  }
});

test("refusal CSRF_REFUSED: a simple-content-type POST's refusal reaches Apollo with its code", TIMEOUT, async () => {
  // A browser may send text/plain cross-site without a preflight; Apollo sends what it is told to.
  const headers = { authorization: `Bearer ${token("teacher")}`, "content-type": "text/plain" };
  const apollo = apolloClient({ token: token("teacher"), httpOptions: { headers } });
  try {
    const error = await rejection(apollo.client.query({ query: operation("Me"), fetchPolicy: "network-only" }));
    assertCodeReadable(error, "CSRF_REFUSED");
  } finally {
    await apollo.close();
  }
});
