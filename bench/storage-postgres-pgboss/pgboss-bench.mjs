// pg-boss 10.4 doing what one execd execution does to its storage, for
// bench/storage-postgres: CONCURRENCY loops, each sending a job, fetching
// it and completing it, until COUNT jobs are complete.  Prints one line:
//   pg-boss: N jobs in T s = R jobs/s
// Arguments: SOCKET_DIR PORT USER DATABASE COUNT CONCURRENCY
import PgBoss from 'pg-boss';

const [host, port, user, database, countArg, concArg] = process.argv.slice(2);
const count = Number(countArg), concurrency = Number(concArg);
const boss = new PgBoss({ host, port: Number(port), user, database,
                          max: concurrency + 2, schema: 'pgboss_bench' });
boss.on('error', (e) => { console.error('pg-boss:', e.message); });
await boss.start();
const queue = 'bench';
await boss.createQueue(queue);

let started = 0, done = 0;
async function loop() {
  while (started < count) {
    started++;
    const id = await boss.send(queue, { command: '/bin/true' });
    if (!id) throw new Error('send returned no id');
    let jobs = await boss.fetch(queue);
    while (!jobs || jobs.length === 0) jobs = await boss.fetch(queue);
    await boss.complete(queue, jobs[0].id);
    done++;
  }
}
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: concurrency }, loop));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`pg-boss: ${done} jobs in ${seconds.toFixed(2)} s = ${(done / seconds).toFixed(0)} jobs/s`);
await boss.stop({ graceful: false, wait: false });
process.exit(0);
