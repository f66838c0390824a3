"""`manage.py seed_demo --subjects N --seed S`: realistic, deterministic demo data, fast at a million.

Subjects across California, other US states, the EU (DE, FR, IE, NL), the UK and elsewhere;
individuals and juristic entities; a few minors; records in every registered category; third
parties (service providers, affiliates incl. a same-brand one, marketing partners) and external
systems. Each subject gets its own data key (wrapped by the master key) and its sensitive fields
are sealed under it, exactly like records created through the services.

Speed: rows are generated in batches (optionally in worker processes) and written with COPY on
PostgreSQL, each batch in its own short transaction. Keys are drawn and wrapped (MultiFernet) in the
workers; sealing (AES-256-GCM, a few µs per value) happens in the writing process, which alone knows
the reserved row ids that each ciphertext is bound to.
An interrupted run leaves whole batches only: rerun with `--append --subjects <missing>`.
"""

import multiprocessing
import time
from collections import deque
from datetime import datetime

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from django.utils import timezone
from tqdm import tqdm

from audit.services import audit_record
from inventory import conf, crypto, demo
from inventory.bulk import analyze, insert_rows, reserve_ids
from inventory.models import DataSubject, Source, System, ThirdParty

SUBJECT = "inventory.DataSubject"


def ensure_reference_rows() -> demo.Lookups:
    """Third parties and external systems the demo records point at (idempotent, by natural key)."""
    parties = {}
    for (name, kind, street, city, region, postal, country, nature, products, same_brand,
         contact) in demo.THIRD_PARTIES:  # fmt: skip
        parties[name], _ = ThirdParty.objects.update_or_create(
            legal_name=name,
            defaults=dict(
                kind=kind, street_address=street, city=city, region=region, postal_code=postal,
                country=country, nature_of_business=nature, product_examples=products,
                same_brand_affiliate=same_brand, privacy_contact_email=contact,
            ),
        )  # fmt: skip
    for code, name, owner, provider, location, description in demo.EXTERNAL_SYSTEMS:
        System.objects.update_or_create(
            code=code,
            defaults=dict(
                name=name, kind=System.Kind.EXTERNAL, owner=owner, provider=parties[provider],
                location=location, description=description,
            ),
        )  # fmt: skip
    return demo.Lookups(
        sources=dict(Source.objects.values_list("code", "pk")),
        systems=dict(System.objects.values_list("code", "pk")),
    )


def write_batch(batch: demo.Batch) -> dict[str, int]:
    """One batch, all or nothing: subjects, their data keys and records, in one short transaction."""
    written: dict[str, int] = {}
    with transaction.atomic():
        ids = reserve_ids(DataSubject, batch.size)
        keys = {sid: crypto.sealing_key(sid, raw) for sid, raw in zip(ids, batch.keys, strict=True)}
        subjects = demo.seal_rows(
            DataSubject, SUBJECT, batch.rows[SUBJECT], row_ids=ids, subject_ids=ids, keys=keys
        )
        written[SUBJECT] = insert_rows(DataSubject, ["id", *demo.COLUMNS[SUBJECT]], subjects)
        for label, rows in batch.rows.items():
            if label == SUBJECT:
                continue
            model, columns = apps.get_model(label), demo.COLUMNS[label]
            rows = [(ids[row[0]], *row[1:]) for row in rows]
            if label in demo.SEALED:  # ids reserved first: each ciphertext is bound to its row
                row_ids = reserve_ids(model, len(rows))
                subject_ids = [row[0] for row in rows]
                rows = demo.seal_rows(model, label, rows, row_ids=row_ids, subject_ids=subject_ids, keys=keys)
                columns = ["id", *columns]
            written[label] = insert_rows(model, columns, rows)
    return written


class Command(BaseCommand):
    help = "Load realistic, deterministic demo data (subjects in several jurisdictions and their records)."

    def add_arguments(self, parser):
        parser.add_argument("--subjects", type=int, default=2000, help="How many subjects (default 2000).")
        parser.add_argument("--seed", type=int, default=1, help="Same seed, same people (default 1).")
        parser.add_argument("--batch-size", type=int, default=5000, help="Subjects per transaction.")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Generator processes (default: none below 20,000 subjects, else one per CPU, at most 4).",
        )
        parser.add_argument(
            "--append", action="store_true", help="Add to a database that already holds subjects."
        )
        parser.add_argument(
            "--as-of",
            type=datetime.fromisoformat,
            default=None,
            help="Reference time for ages and history (ISO, default now): fixes the output completely.",
        )
        parser.add_argument("--force", action="store_true", help="Allow with DEBUG off (scratch databases).")

    def handle(self, *args, subjects: int, seed: int, batch_size: int, workers, append: bool, as_of,
               force: bool, **options):  # fmt: skip
        if not conf.demo_seeding_allowed() and not force:
            raise CommandError("seed_demo writes invented people; with DEBUG off it needs --force.")
        if subjects < 0 or batch_size < 1:
            raise CommandError("--subjects must be >= 0 and --batch-size >= 1.")
        existing = DataSubject.objects.count()
        if existing and not append:
            raise CommandError(
                f"The database already holds {existing} subjects; use --append to add demo subjects."
            )
        first = existing if append else 0
        as_of = as_of or timezone.now()
        if timezone.is_naive(as_of):
            as_of = timezone.make_aware(as_of, timezone.UTC)
        as_of = as_of.replace(microsecond=0)
        lookups = ensure_reference_rows()
        if workers is None:
            workers = 0 if subjects < 20_000 else min(4, multiprocessing.cpu_count())
        common = dict(
            seed=seed,
            as_of=as_of,
            companies=demo.companies_for(first + subjects),
            lookups=lookups,
            master_keys=conf.data_master_keys(),
        )
        specs = [
            (start, min(batch_size, first + subjects - start))
            for start in range(first, first + subjects, batch_size)
        ]
        totals: dict[str, int] = {}
        started = time.perf_counter()
        progress = tqdm(
            total=subjects, unit=" subjects", disable=options["verbosity"] < 1 or subjects == 0, leave=False
        )
        for batch in self._batches(specs, common, workers):
            for label, n in write_batch(batch).items():
                totals[label] = totals.get(label, 0) + n
            progress.update(batch.size)
        progress.close()
        analyze(*(apps.get_model(label) for label in demo.COLUMNS))
        elapsed = time.perf_counter() - started
        rows = sum(totals.values())
        audit_record(
            action="demo.seeded",
            actor="seed_demo",
            details={"seed": seed, "first_index": first, "rows": totals, "as_of": as_of.isoformat()},
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {totals.get(SUBJECT, 0):,} subjects and {rows - totals.get(SUBJECT, 0):,} further rows "
                f"in {elapsed:.1f} s ({rows / elapsed if elapsed else 0:,.0f} rows/s, seed {seed}, "
                f"{workers or 'no'} worker processes)."
            )
        )
        if options["verbosity"] > 1:
            for label, n in sorted(totals.items()):
                self.stdout.write(f"  {label}: {n:,}")

    def _batches(self, specs, common, workers):
        """Batches in index order; with workers, generation runs ahead by at most two batches each."""
        if not workers or len(specs) < 2:
            for start, count in specs:
                yield demo.generate_batch(start=start, count=count, **common)
            return
        from concurrent.futures import ProcessPoolExecutor

        # Forked workers must not share the parent's database sockets.
        connections.close_all()
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            todo = iter(specs)
            pending = deque()
            for start, count in todo:
                pending.append(pool.submit(demo.generate_batch, start=start, count=count, **common))
                if len(pending) >= workers * 2:
                    break
            while pending:
                batch = pending.popleft().result()
                following = next(todo, None)
                if following is not None:
                    pending.append(
                        pool.submit(demo.generate_batch, start=following[0], count=following[1], **common)
                    )
                yield batch
