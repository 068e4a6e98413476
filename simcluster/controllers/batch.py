"""CronJob -> Jobs on a 5-field cron schedule, Job -> Pods with completion and failure status."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from simcluster.controllers.context import Context, owner_ref, parse_time, with_condition

Obj = dict[str, Any]
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body in ("*", "?"):
            start, end = low, high
        elif "-" in body:
            start, end = (int(x) for x in body.split("-", 1))
        else:
            start = int(body)
            end = high if step_text else start
        if start < low or end > high or start > end or step < 1:
            raise ValueError(f"cron field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(7 % 7 if high == 6 and v == 7 else v for v in values)


class CronSchedule:
    """A parsed 5-field cron expression (minute hour day-of-month month day-of-week)."""

    def __init__(self, text: str) -> None:
        fields = _ALIASES.get(text.strip(), text).split()
        if len(fields) != 5:
            raise ValueError(f"a cron schedule has 5 fields: {text!r}")
        self.minutes, self.hours, self.days, self.months, self.weekdays = (
            _field(f, lo, hi) for f, (lo, hi) in zip(fields, _RANGES, strict=True)
        )
        self._any_day, self._any_weekday = fields[2] in ("*", "?"), fields[4] in ("*", "?")

    def _day_matches(self, moment: datetime) -> bool:
        day, weekday = moment.day in self.days, (moment.isoweekday() % 7) in self.weekdays
        if self._any_day or self._any_weekday:
            return day and weekday
        return day or weekday

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled minute strictly after `moment`."""
        current = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(600_000):
            if current.month not in self.months or not self._day_matches(current):
                current = (current + timedelta(days=1)).replace(hour=0, minute=0)
            elif current.hour not in self.hours:
                current = (current + timedelta(hours=1)).replace(minute=0)
            elif current.minute not in self.minutes:
                current += timedelta(minutes=1)
            else:
                return current
        raise ValueError("cron schedule never fires")

    def last_due(self, after: datetime, now: datetime) -> datetime | None:
        """The latest scheduled time in (after, now], if any."""
        due = None
        moment = self.next_after(after)
        for _ in range(1000):
            if moment > now:
                break
            due = moment
            moment = self.next_after(moment)
        else:
            return self.last_due(now - timedelta(hours=1), now)
        return due


def _job_finished(job: Obj) -> str | None:
    for cond in job.get("status", {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def sync_cronjob(ctx: Context, cronjob: Obj) -> None:
    """Start the job that is due (unless suspended), honour concurrencyPolicy, trim history."""
    spec, meta = cronjob.get("spec") or {}, cronjob["metadata"]
    jobs = sorted(ctx.owned("Job", cronjob), key=lambda j: j["metadata"].get("creationTimestamp", ""))
    active = [j for j in jobs if not _job_finished(j)]
    status = copy.deepcopy(cronjob.get("status") or {})
    try:
        schedule = CronSchedule(str(spec.get("schedule", "")))
    except ValueError:
        return
    last = parse_time(status.get("lastScheduleTime")) or parse_time(meta.get("creationTimestamp")) or ctx.now
    due = None if spec.get("suspend") else schedule.last_due(last, ctx.now)
    policy = spec.get("concurrencyPolicy", "Allow")
    if due is not None and not (policy == "Forbid" and active):
        if policy == "Replace":
            for job in active:
                ctx.delete("Job", job)
            active = []
        template = copy.deepcopy(spec.get("jobTemplate") or {})
        job_meta = dict(template.get("metadata") or {})
        job_meta.update(
            name=f"{meta['name']}-{int(due.timestamp()) // 60}",
            namespace=meta["namespace"],
            ownerReferences=[owner_ref(cronjob)],
        )
        job_meta.setdefault("annotations", {})["batch.kubernetes.io/cronjob-scheduled-timestamp"] = due.strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        created = ctx.create("Job", {"metadata": job_meta, "spec": template.get("spec") or {}})
        if created:
            active.append(created)
            jobs.append(created)
        status["lastScheduleTime"] = due.strftime("%Y-%m-%dT%H:%M:%SZ")
    for kind, limit in (
        ("Complete", spec.get("successfulJobsHistoryLimit", 3)),
        ("Failed", spec.get("failedJobsHistoryLimit", 1)),
    ):
        done = [j for j in jobs if _job_finished(j) == kind]
        for job in done[: max(0, len(done) - int(limit))]:
            ctx.delete("Job", job)
    succeeded = [j for j in jobs if _job_finished(j) == "Complete"]
    if succeeded:
        status["lastSuccessfulTime"] = succeeded[-1].get("status", {}).get("completionTime", ctx.stamp)
    refs = [
        {
            "kind": "Job",
            "apiVersion": "batch/v1",
            "namespace": j["metadata"]["namespace"],
            "name": j["metadata"]["name"],
            "uid": j["metadata"]["uid"],
        }
        for j in active
    ]
    if refs:
        status["active"] = refs
    else:
        status.pop("active", None)
    ctx.set_status("CronJob", cronjob, status)


def sync_job(ctx: Context, job: Obj) -> None:
    """Run pods until `completions` succeed or failures pass `backoffLimit`."""
    spec, meta = job.get("spec") or {}, job["metadata"]
    status = copy.deepcopy(job.get("status") or {})
    pods = ctx.owned("Pod", job)
    succeeded = sum(1 for p in pods if p.get("status", {}).get("phase") == "Succeeded")
    failed = sum(1 for p in pods if p.get("status", {}).get("phase") == "Failed")
    running = [
        p
        for p in pods
        if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        and not p["metadata"].get("deletionTimestamp")
    ]
    completions, parallelism = int(spec.get("completions", 1)), int(spec.get("parallelism", 1))
    finished = _job_finished(job)
    conditions = list(status.get("conditions") or [])
    if not finished and failed > int(spec.get("backoffLimit", 6)):
        finished = "Failed"
        conditions = with_condition(
            conditions,
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
                "lastProbeTime": ctx.stamp,
            },
            ctx.stamp,
        )
    elif not finished and succeeded >= completions:
        finished = "Complete"
        conditions = with_condition(
            conditions,
            {"type": "Complete", "status": "True", "reason": "", "message": "", "lastProbeTime": ctx.stamp},
            ctx.stamp,
        )
        status["completionTime"] = ctx.stamp
    if finished:
        for pod in running:
            ctx.delete("Pod", pod)
        running = []
    elif not spec.get("suspend"):
        want = min(parallelism, completions - succeeded) - len(running)
        template = spec.get("template") or {}
        labels = {"job-name": meta["name"], "batch.kubernetes.io/job-name": meta["name"], "controller-uid": meta["uid"]}
        for _ in range(max(0, want)):
            pod = ctx.pod_from_template(
                job,
                template,
                extra={
                    "labels": labels,
                    "spec": {"restartPolicy": (template.get("spec") or {}).get("restartPolicy", "Never")},
                },
            )
            created = ctx.create("Pod", pod)
            if created:
                running.append(created)
    status.update(
        startTime=status.get("startTime") or ctx.stamp, succeeded=succeeded, failed=failed, active=len(running)
    )
    status = {k: v for k, v in status.items() if v != 0}
    if conditions:
        status["conditions"] = conditions
    ctx.set_status("Job", job, status)
