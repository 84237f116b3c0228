import { startTestHub } from '../support/hub';
it('scratch', async () => {
  const hub = await startTestHub();
  const q = (s: string) => hub.hub.db.query(s);
  console.log(await q(`select similarity('张建国','张健国') a, similarity('张建国','张建国') b, show_trgm('张建国') t, similarity('Zhang Jianguo','Zhang Jian-guo') c, '张建国' % '张健国' d, version() v, current_setting('lc_ctype') ct, current_setting('pg_trgm.similarity_threshold') th`));
  console.log(await q(`select similarity('李秀英','李秀兰') a, similarity('欧阳建国','欧阳健国') b`));
  await hub.stop();
});
