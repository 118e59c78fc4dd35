"""Drives the API through the client that openapi-python-client generated from openapi.yaml:
register, login, me, then a task's create, get, update, list and delete. Every response must
parse into the documented model; a field the document gets wrong fails here.

Usage: client_flow.py API_BASE_URL (the generated package on PYTHONPATH)
"""

import secrets
import sys
import uuid

from taskapi_client import AuthenticatedClient, Client
from taskapi_client.api.accounts import get_me, login, register
from taskapi_client.api.tasks import create_task, delete_task, get_task, list_tasks, update_task
from taskapi_client.models import (
    CreateTaskRequest,
    CreateTaskRequestStepsType0Item,
    Document,
    LoginRequest,
    RegisterRequest,
    TaskPage,
    TaskStatus,
    TaskWithSteps,
    TokenResponse,
    UpdateTaskRequest,
    User,
)


def expect(response, status, model=None):
    if response.status_code != status:
        raise SystemExit(f"expected {status}, got {response.status_code}: {response.content!r}")
    if model is not None and not isinstance(response.parsed, model):
        raise SystemExit(f"expected a {model.__name__}, got {type(response.parsed).__name__}")
    return response.parsed


def document(**values):
    return Document.from_dict(values)


def main(base_url):
    name = f"client_{secrets.token_hex(6)}"
    password = "violet rivers hum beneath lanterns"
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)

    user = expect(
        register.sync_detailed(
            client=anonymous,
            body=RegisterRequest(username=name, email=f"{name}@example.com", password=password),
        ),
        201,
        User,
    )
    token = expect(
        login.sync_detailed(client=anonymous, body=LoginRequest(login=name, password=password)),
        200,
        TokenResponse,
    )
    api = AuthenticatedClient(base_url=base_url, token=token.access_token)
    me = expect(get_me.sync_detailed(client=api), 200, User)
    assert me.id == user.id and me.username == name

    created = expect(
        create_task.sync_detailed(
            client=api,
            body=CreateTaskRequest(
                title="generated",
                priority=3,
                input_=document(source="client", nested={"n": [1, 2]}),
                steps=[
                    CreateTaskRequestStepsType0Item(name="fetch", input_=document(url="x")),
                    CreateTaskRequestStepsType0Item(name="store"),
                ],
            ),
        ),
        201,
        TaskWithSteps,
    )
    assert created.owner_id == user.id
    assert created.input_["nested"] == {"n": [1, 2]}
    assert [step.name for step in created.steps] == ["fetch", "store"]
    assert created.steps[0].output is None

    fetched = expect(get_task.sync_detailed(created.id, client=api), 200, TaskWithSteps)
    assert fetched.id == created.id and fetched.version == 1

    updated = expect(
        update_task.sync_detailed(
            created.id,
            client=api,
            body=UpdateTaskRequest(status=TaskStatus.COMPLETED, result=document(ok=True)),
            if_match='"1"',
        ),
        200,
        TaskWithSteps,
    )
    assert updated.status == TaskStatus.COMPLETED and updated.version == 2
    assert updated.result["ok"] is True and updated.completed_at is not None

    page = expect(list_tasks.sync_detailed(client=api, limit=10), 200, TaskPage)
    assert [task.id for task in page.items] == [created.id]
    assert page.next_cursor is None

    expect(delete_task.sync_detailed(created.id, client=api, if_match='"2"'), 204)
    expect(get_task.sync_detailed(created.id, client=api), 404)
    expect(get_task.sync_detailed(uuid.uuid4(), client=api), 404)
    print(f"generated client: register, login, me and the task cycle work against {base_url}")


if __name__ == "__main__":
    main(sys.argv[1])
