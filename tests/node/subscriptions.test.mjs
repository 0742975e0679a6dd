// Every contract subscription the schema serves, through each stock client the frontends use
// (graphql-ws, Apollo Client 4's GraphQLWsLink, urql's subscriptionExchange): each receives the
// event that a write made through the API causes. Run by tests/e2e/test_node_clients.py, one
// subscription at a time (--test-name-pattern "^<Subscription> through "), which sets up the data.
import assert from "node:assert/strict";
import { test } from "node:test";
import { post, SUBSCRIBERS, writeUntilReceived } from "./lib/clients.mjs";
import { setting, token } from "./lib/env.mjs";
import { operation } from "./lib/operations.mjs";

const TIMEOUT = { timeout: 30_000 };
let scores = 0;

/** Only these fields (Apollo and urql add __typename to every selection). */
const pick = (object, keys) => Object.fromEntries(keys.map((key) => [key, object[key]]));

/** A grade no earlier write of this run used, so each event can be told from older ones. */
function freshScore() {
  scores += 1;
  return 10 - scores * 0.25;
}

function updateGrade(writer, score) {
  const input = {
    studentId: setting("CG_STUDENT_ID"),
    assignmentId: setting("CG_ASSIGNMENT_ID"),
    score,
    expectedVersion: null,
  };
  return post(operation("UpdateGrade"), { input }, token(writer));
}

const SCENARIOS = {
  async GradebookEvents(subscribe) {
    const feed = subscribe({
      document: operation("GradebookEvents"),
      variables: { classId: setting("CG_CLASS_ID") },
      token: token("teacher"),
    });
    try {
      // Subscribing makes the teacher an editor: that event says the subscription is live.
      const joined = await feed.next(
        (data) =>
          data.gradebookEvents.__typename === "EditorsChanged" &&
          data.gradebookEvents.editors.some((e) => e.user.name === setting("CG_TEACHER_NAME")),
      );
      assert.ok(joined.gradebookEvents.editors.length >= 1);
      const score = freshScore();
      const written = (await updateGrade("other_teacher", score)).updateGrade;
      assert.deepEqual(written.userErrors, []);
      const seen = await feed.next((data) => data.gradebookEvents.__typename === "GradeUpdated");
      assert.deepEqual(pick(seen.gradebookEvents.grade, ["id", "score", "letter", "version"]), {
        id: written.grade.id,
        score,
        letter: written.grade.letter,
        version: written.grade.version,
      });
      assert.equal(seen.gradebookEvents.studentId, setting("CG_STUDENT_ID"));
      assert.equal(seen.gradebookEvents.assignmentId, setting("CG_ASSIGNMENT_ID"));
      assert.equal(seen.gradebookEvents.by.name, setting("CG_OTHER_TEACHER_NAME"));
    } finally {
      await feed.close();
    }
  },

  async MessageAdded(subscribe, client) {
    const feed = subscribe({
      document: operation("MessageAdded"),
      variables: { conversationId: setting("CG_CONVERSATION_ID") },
      token: token("student"),
    });
    try {
      const { event, written } = await writeUntilReceived(
        feed,
        (attempt) => send(`${client} #${attempt}: how did the exam go?`),
        (data, sent) => sent.some((m) => m.id === data.messageAdded.id),
      );
      const sent = written.find((m) => m.id === event.messageAdded.id);
      assert.equal(event.messageAdded.body, sent.body);
      assert.equal(event.messageAdded.author.name, setting("CG_MENTOR_NAME"));
      assert.deepEqual(event.messageAdded.attachments, []);
    } finally {
      await feed.close();
    }
  },

  async NotificationAdded(subscribe, client) {
    const feed = subscribe({ document: operation("NotificationAdded"), variables: {}, token: token("student") });
    try {
      const { event, written } = await writeUntilReceived(
        feed,
        async (attempt) => {
          const message = `${client} #${attempt}: the library closes early today`;
          const input = { action: "SEND_NOTIFICATION", studentIds: [setting("CG_STUDENT_ID")], message };
          const data = await post(operation("BulkStudentAction"), { input }, token("staff"));
          assert.deepEqual(data.bulkStudentAction.userErrors, []);
          assert.equal(data.bulkStudentAction.processedCount, 1);
          return message;
        },
        (data, sent) => sent.includes(data.notificationAdded.body),
      );
      assert.ok(written.includes(event.notificationAdded.body));
      assert.equal(event.notificationAdded.kind, "school_message");
      assert.equal(event.notificationAdded.title, `Message from ${setting("CG_STAFF_NAME")}`);
      assert.ok(event.notificationAdded.id);
    } finally {
      await feed.close();
    }
  },

  async StudentDashboardUpdated(subscribe) {
    const feed = subscribe({
      document: operation("StudentDashboardUpdated"),
      variables: {},
      token: token("student"),
    });
    const percentage = (data) => data.studentDashboardUpdated.courses[0]?.currentGrade.percentage;
    try {
      const { event, written } = await writeUntilReceived(
        feed,
        async () => {
          const score = freshScore();
          await updateGrade("teacher", score);
          return score;
        },
        // The only graded work is out of 10: the course's grade is 10 × the score written.
        (data, sent) => sent.some((score) => Math.abs(percentage(data) - score * 10) < 1e-9),
      );
      assert.ok(written.length >= 1);
      assert.equal(event.studentDashboardUpdated.courses[0].class.id, setting("CG_CLASS_ID"));
      assert.equal(typeof event.studentDashboardUpdated.courses[0].currentGrade.letter, "string");
      assert.equal(event.studentDashboardUpdated.notifications.status, "OK");
    } finally {
      await feed.close();
    }
  },

  async TeacherDashboardUpdated(subscribe) {
    const feed = subscribe({ document: operation("TeacherDashboardUpdated"), variables: {}, token: token("teacher") });
    let firstWrite;
    try {
      const { event } = await writeUntilReceived(
        feed,
        async () => {
          firstWrite ??= Date.now();
          await updateGrade("other_teacher", freshScore());
        },
        // Generated after this client's first write (older pushes may still be on their way).
        (data) => Date.parse(data.teacherDashboardUpdated.generatedAt) >= firstWrite - 5,
      );
      assert.deepEqual(event.teacherDashboardUpdated.pendingGrading, [], "the only past-due cell is graded");
    } finally {
      await feed.close();
    }
  },
};

function send(body) {
  const input = { conversationId: setting("CG_CONVERSATION_ID"), body };
  return post(operation("SendMessage"), { input }, token("mentor")).then((data) => {
    assert.deepEqual(data.sendMessage.userErrors, []);
    return data.sendMessage.message;
  });
}

for (const [name, scenario] of Object.entries(SCENARIOS)) {
  for (const [client, subscribe] of Object.entries(SUBSCRIBERS)) {
    test(`${name} through ${client}`, TIMEOUT, () => scenario(subscribe, client));
  }
}
