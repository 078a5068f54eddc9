"""``esimdesk backup`` and ``esimdesk restore FILE``: the data file as a whole. Errors are raised as
EsimdeskError (StoreError) and printed in words by ``main``."""

from __future__ import annotations

from esimdesk.cli.output import print_json
from esimdesk.services.data_folder import backup_data_file, restore_data_file


def cmd_backup(args) -> int:
    made, kept = backup_data_file(getattr(args, "demo", False))
    if args.json:
        print_json({"backup": str(made), "bytes": made.stat().st_size, "backups": [str(p) for p in kept]})
    else:
        print(made)
    return 0


def cmd_restore(args) -> int:
    result = restore_data_file(args.file, getattr(args, "demo", False))
    if args.json:
        print_json(result.to_json())
        return 0
    r = result.restored
    print(f"restored {result.data_file} from {result.source}: {r.orders} orders, {r.journal} journal entries "
          f"(schema {r.schema})")
    if result.kept_as is not None:
        print(f"the file it replaced ({result.previous}) was kept as {result.kept_as}")
    else:
        print("there was no data file with any content to keep" if result.previous == "empty"
              else "there was no data file before")
    for line in result.merged.sentences() if result.merged else []:  # what the restore kept: never a silent drop
        print(line)
    return 0
