import {BaseCommand} from '../../cli/base-command.js';
import {jsonFlag} from '../../cli/flags.js';
import {formatBytes, makeTable} from '../../cli/format.js';
import {listCache} from '../../api/cache.js';

export default class CacheList extends BaseCommand {
  static override summary = 'List what the caches hold and how much space each entry takes.';
  static override description = `Lists hire's own cache, the synthetic checkpoints that bench --shape writes ($HIRE_CACHE_DIR, else ~/.cache/hire; gigabytes for the larger shapes), and the models in the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), shared with the Python tools. Sizes are bytes on disk (a blob linked from several snapshots counts once). hire cache clear removes entries.`;

  static override examples = ['<%= config.bin %> cache list', '<%= config.bin %> cache list --json'];

  static override flags = {
    json: jsonFlag('Print {hireDir, hubDir, entries: [{kind, name, path, bytes, about}], bytes} as JSON.'),
  };

  async run() {
    await this.parse(CacheList);
    const listing = listCache();
    if (listing.entries.length > 0) {
      const table = makeTable(['name', 'kind', 'size', 'about']);
      for (const e of listing.entries) table.push([e.name, e.kind, formatBytes(e.bytes), e.about]);
      this.log(table.toString());
    }
    this.log(`${listing.entries.length} entries, ${formatBytes(listing.bytes)} (hire: ${listing.hireDir}; Hugging Face: ${listing.hubDir})`);
    return listing;
  }
}
