// bench/redis-intake's anchor: BullMQ on the same redis-server, N jobs added
// at once (addBulk), a Worker of the same concurrency whose processor spawns
// /bin/true and waits for it.  Prints {"seconds": S} from the first add to
// the N-th completion.  Environment: REDIS_PORT, N, CONCURRENCY,
// NODE_PATH (where bullmq is installed).
const { Queue, Worker, QueueEvents } = require("bullmq");
const { spawn } = require("child_process");

const connection = { host: "127.0.0.1", port: Number(process.env.REDIS_PORT) };
const n = Number(process.env.N);
const concurrency = Number(process.env.CONCURRENCY);

function runTrue() {
  return new Promise((resolve, reject) => {
    const p = spawn("/bin/true", [], { stdio: "ignore" });
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error("exit " + code))));
  });
}

async function main() {
  const queue = new Queue("bench", { connection });
  await queue.obliterate({ force: true }).catch(() => {});
  let done = 0;
  let finish;
  const finished = new Promise((r) => (finish = r));
  const worker = new Worker("bench", () => runTrue(), { connection, concurrency, autorun: false });
  worker.on("completed", () => {
    if (++done === n) finish();
  });
  worker.on("failed", (job, err) => {
    console.error("job failed:", err && err.message);
    if (++done === n) finish();
  });
  await worker.waitUntilReady();
  const t0 = process.hrtime.bigint();
  const jobs = [];
  for (let i = 0; i < n; i++) jobs.push({ name: "true", data: { i } });
  for (let i = 0; i < jobs.length; i += 1000) await queue.addBulk(jobs.slice(i, i + 1000));
  worker.run();
  await finished;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ seconds }));
  await worker.close();
  await queue.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
