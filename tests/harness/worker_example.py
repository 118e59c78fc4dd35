"""Runs examples/worker.py against the API at $1: a user, an agent and its key, three tasks
with steps, all through the generated client; then the worker drains the queue, and every task
must be completed with each step completed by it.

Usage: worker_example.py API_BASE_URL (the generated package on PYTHONPATH)
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from taskapi_client import AuthenticatedClient, Client
from taskapi_client.api.accounts import login, register
from taskapi_client.api.agents import create_agent, create_agent_key
from taskapi_client.api.tasks import create_task, get_task
from taskapi_client.models import (
    CreateAgentKeyRequest,
    CreateAgentRequest,
    CreateTaskRequest,
    CreateTaskRequestStepsType0Item,
    LoginRequest,
    RegisterRequest,
    TaskStatus,
)

ROOT = Path(__file__).resolve().parents[2]


def main(base_url):
    name = f"worker_{secrets.token_hex(6)}"
    password = "violet rivers hum beneath lanterns"
    anonymous = Client(base_url=base_url)
    register.sync_detailed(client=anonymous, body=RegisterRequest(username=name, email=f"{name}@example.com", password=password))
    token = login.sync_detailed(client=anonymous, body=LoginRequest(login=name, password=password)).parsed
    owner = AuthenticatedClient(base_url=base_url, token=token.access_token)
    agent = create_agent.sync_detailed(client=owner, body=CreateAgentRequest(name="example worker")).parsed
    key = create_agent_key.sync_detailed(agent.id, client=owner, body=CreateAgentKeyRequest(name="worker.py")).parsed
    tasks = [
        create_task.sync_detailed(
            client=owner,
            body=CreateTaskRequest(
                title=f"job {n}",
                priority=n,
                steps=[CreateTaskRequestStepsType0Item(name=s) for s in ("fetch", "transform", "store")],
            ),
        ).parsed
        for n in range(3)
    ]

    env = dict(os.environ, API_BASE_URL=base_url, AGENT_KEY=key.key)
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "worker.py"), "--drain"], env=env,
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        raise SystemExit(f"worker.py failed:\n{run.stdout}{run.stderr}")
    for task in tasks:
        done = get_task.sync_detailed(task.id, client=owner).parsed
        assert done.status == TaskStatus.COMPLETED, (done.title, done.status)
        assert [s.status for s in done.steps] == [TaskStatus.COMPLETED] * 3
        assert done.result["steps"] == 3 and done.lease_holder == agent.id and done.attempt == 1
    print(f"examples/worker.py ({run.stdout.strip()}): claimed, moved every step, heartbeat and completed 3 tasks through the generated client")


if __name__ == "__main__":
    main(sys.argv[1])
