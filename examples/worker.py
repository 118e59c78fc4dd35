"""A small agent worker, written against the Python client that openapi-python-client generates
from openapi.yaml (`make test` generates it into .local/client and runs this worker).

It claims its owner's most urgent task, works each step in order (moving it to in_progress,
then completed with an output), heartbeats between steps so its lease stays alive, and
completes the task. Every write carries the claim's fencing token: if the lease was lost (the
worker stalled past it and another claim took the task), the API answers 409 and the worker
drops the task and claims again. An empty queue answers 204 with Retry-After.

    API_BASE_URL=http://127.0.0.1:9000 AGENT_KEY=tak_... python examples/worker.py [--drain]

--drain stops at the first empty queue instead of waiting for more work.
"""

import os
import sys
import time

from taskapi_client import AuthenticatedClient
from taskapi_client.api.tasks import update_step
from taskapi_client.api.work import claim_task, complete_task, heartbeat
from taskapi_client.models import (
    ClaimedTask,
    ClaimRequest,
    CompleteRequest,
    HeartbeatRequest,
    TaskStatus,
    UpdateStepRequest,
)

LEASE_SECONDS = 60


def work_on(client, task):
    """Runs one claimed task to completion; False when the lease was lost on the way."""
    token = task.fencing_token
    for step in sorted(task.steps, key=lambda s: s.position):
        for status in (TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED):
            body = UpdateStepRequest(status=status, fencing_token=token)
            if status == TaskStatus.COMPLETED:
                body = UpdateStepRequest.from_dict(
                    {"status": "completed", "fencing_token": token, "output": {"done_by": "worker.py"}}
                )
            moved = update_step.sync_detailed(task.id, step.id, client=client, body=body)
            if moved.status_code == 409:
                return False
            if moved.status_code != 200:
                raise SystemExit(f"step {step.name}: {moved.status_code} {moved.content!r}")
        beat = heartbeat.sync_detailed(
            task.id, client=client, body=HeartbeatRequest(fencing_token=token, lease_seconds=LEASE_SECONDS)
        )
        if beat.status_code == 409:
            return False
    done = complete_task.sync_detailed(
        task.id,
        client=client,
        body=CompleteRequest.from_dict({"fencing_token": token, "result": {"steps": len(task.steps)}}),
    )
    if done.status_code == 409:
        return False
    if done.status_code != 200:
        raise SystemExit(f"complete: {done.status_code} {done.content!r}")
    return True


def main():
    client = AuthenticatedClient(base_url=os.environ["API_BASE_URL"], token=os.environ["AGENT_KEY"])
    drain = "--drain" in sys.argv
    completed = 0
    while True:
        claimed = claim_task.sync_detailed(client=client, body=ClaimRequest(lease_seconds=LEASE_SECONDS))
        if claimed.status_code == 204:
            if drain:
                break
            time.sleep(int(claimed.headers.get("retry-after", "5")))
            continue
        if claimed.status_code != 200 or not isinstance(claimed.parsed, ClaimedTask):
            raise SystemExit(f"claim: {claimed.status_code} {claimed.content!r}")
        if work_on(client, claimed.parsed):
            completed += 1
    print(f"worker: completed {completed} tasks")


if __name__ == "__main__":
    main()
