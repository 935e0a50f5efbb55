// ORMs handed our client in place of @libsql/client's: Drizzle (drizzle-orm/libsql) and Kysely
// (@libsql/kysely-libsql's dialect with `{ client }`), over http, ws and a local file.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { Kysely } from "kysely";
import { LibsqlDialect } from "@libsql/kysely-libsql";
import { createClient } from "../esm/index.mjs";
import { startServer, table, targets } from "./helpers.mjs";

let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

for (const target of targets(() => server)) {
  describe(`ORMs on ${target.name}`, () => {
    let client;
    before(() => (client = createClient({ url: target.url() })));
    after(() => client?.close());

    it("Drizzle: schema, inserts, a join, a transaction and a batch", async () => {
      const authorsName = table("authors");
      const postsName = table("posts");
      const authors = sqliteTable(authorsName, {
        id: integer("id").primaryKey({ autoIncrement: true }),
        name: text("name").notNull().unique(),
      });
      const posts = sqliteTable(postsName, {
        id: integer("id").primaryKey({ autoIncrement: true }),
        authorId: integer("author_id").notNull().references(() => authors.id),
        title: text("title").notNull(),
      });
      const db = drizzle(client);
      await db.run(sql.raw(`CREATE TABLE ${authorsName} (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE)`));
      await db.run(
        sql.raw(
          `CREATE TABLE ${postsName} (id INTEGER PRIMARY KEY AUTOINCREMENT, author_id INTEGER NOT NULL REFERENCES ${authorsName}(id), title TEXT NOT NULL)`,
        ),
      );
      const [ada] = await db.insert(authors).values({ name: "Ada" }).returning();
      assert.equal(ada.name, "Ada");
      const grace = await db.insert(authors).values({ name: "Grace" }).returning({ id: authors.id });
      await db.insert(posts).values([
        { authorId: ada.id, title: "Engines" },
        { authorId: ada.id, title: "Notes" },
        { authorId: grace[0].id, title: "Compilers" },
      ]);

      const joined = await db
        .select({ author: authors.name, title: posts.title })
        .from(posts)
        .innerJoin(authors, eq(posts.authorId, authors.id))
        .where(eq(authors.name, "Ada"))
        .orderBy(posts.title);
      assert.deepEqual(joined, [
        { author: "Ada", title: "Engines" },
        { author: "Ada", title: "Notes" },
      ]);

      await db.transaction(async (tx) => {
        await tx.insert(posts).values({ authorId: grace[0].id, title: "Debugging" });
        await tx.update(authors).set({ name: "Grace Hopper" }).where(eq(authors.id, grace[0].id));
      });
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.insert(posts).values({ authorId: ada.id, title: "Lost" });
          tx.rollback();
        }),
      );
      const titles = (await db.select({ title: posts.title }).from(posts).orderBy(posts.id)).map((r) => r.title);
      assert.deepEqual(titles, ["Engines", "Notes", "Compilers", "Debugging"]);
      const [hopper] = await db.select().from(authors).where(eq(authors.id, grace[0].id));
      assert.equal(hopper.name, "Grace Hopper");

      const [, counted] = await db.batch([
        db.insert(authors).values({ name: "Barbara" }),
        db.select({ n: sql`count(*)` }).from(authors),
      ]);
      assert.equal(Number(counted[0].n), 3);
      const dup = await db.insert(authors).values({ name: "Ada" }).catch((e) => e);
      assert.equal((dup.cause ?? dup).code, "SQLITE_CONSTRAINT");
    });

    it("Kysely through @libsql/kysely-libsql: schema, inserts, a join and a transaction", async () => {
      const people = table("people");
      const pets = table("pets");
      const db = new Kysely({ dialect: new LibsqlDialect({ client }) });
      await db.schema
        .createTable(people)
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable(pets)
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("owner", "integer", (c) => c.references(`${people}.id`))
        .addColumn("species", "text")
        .execute();
      const inserted = await db.insertInto(people).values({ name: "Ada" }).executeTakeFirst();
      assert.equal(inserted.insertId, 1n);
      await db.insertInto(pets).values([{ owner: 1, species: "cat" }, { owner: 1, species: "owl" }]).execute();
      const rows = await db
        .selectFrom(pets)
        .innerJoin(people, `${people}.id`, `${pets}.owner`)
        .select([`${people}.name as name`, `${pets}.species as species`])
        .orderBy("species")
        .execute();
      assert.deepEqual(rows.map((r) => ({ ...r })), [
        { name: "Ada", species: "cat" },
        { name: "Ada", species: "owl" },
      ]);
      await db.transaction().execute(async (trx) => {
        await trx.insertInto(people).values({ name: "Bob" }).execute();
      });
      await assert.rejects(
        db.transaction().execute(async (trx) => {
          await trx.insertInto(people).values({ name: "Lost" }).execute();
          throw new Error("roll back");
        }),
      );
      const names = await db.selectFrom(people).select("name").orderBy("id").execute();
      assert.deepEqual(names.map((r) => r.name), ["Ada", "Bob"]);
    });
  });
}
