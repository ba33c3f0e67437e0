"""Every operation of the REST API, written once. `Client` and `AsyncClient` inherit
them: on `Client` each returns its result, on `AsyncClient` an awaitable of it."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from flowdeck.client.api_executions import ExecutionOperations, Id, start_operation
from flowdeck.client.models import (
    Execution,
    NewToken,
    Page,
    Template,
    TemplateSummary,
    User,
    Workflow,
    WorkflowSummary,
)
from flowdeck.client.operation import (
    Operation,
    call,
    model,
    nothing,
    text,
)


class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET  # a field left out of an update (None would set it to null)


def _csrf(token: str | None) -> dict[str, str]:
    return {"X-CSRF-Token": token} if token else {}


class Operations(ExecutionOperations):
    """The API's operations (see docs/api.md for what each route does)."""

    # Accounts

    @call
    def login(self, email: str, password: str) -> Operation[User]:
        """Start a session with an email and password (for `create_token`; see `flowdeck
        login`). The answer's `csrf_token` must accompany changes made in the session."""
        body = {"email": email, "password": password}
        return Operation("POST", "/api/auth/login", model(User), json=body)

    @call
    def logout(self, *, csrf_token: str | None = None) -> Operation[None]:
        """End the session started by `login`."""
        return Operation("POST", "/api/auth/logout", nothing, headers=_csrf(csrf_token))

    @call
    def me(self) -> Operation[User]:
        """The user the token (or session) belongs to."""
        return Operation("GET", "/api/me", model(User))

    @call
    def create_token(
        self, name: str, *, expires_at: datetime | None = None, csrf_token: str | None = None
    ) -> Operation[NewToken]:
        """A new API token for me; its value (`token`) is in this answer only."""
        body = {"name": name, "expires_at": expires_at.isoformat() if expires_at else None}
        return Operation(
            "POST", "/api/tokens", model(NewToken), json=body, headers=_csrf(csrf_token)
        )

    # Templates

    @call
    def list_templates(
        self,
        *,
        category: str | None = None,
        search: str | None = None,
        active: Literal["true", "false", "all"] = "true",
        sort: Literal["popularity", "name"] = "popularity",
        limit: int = 50,
        cursor: str | None = None,
    ) -> Operation[Page[TemplateSummary]]:
        """A page of the template catalog, most used first (or by name)."""
        params = {"category": category, "q": search, "active": active, "sort": sort}
        return Operation(
            "GET",
            "/api/templates",
            model(Page[TemplateSummary]),
            params={**params, "limit": limit, "cursor": cursor},
        )

    @call
    def get_template(self, template_id: str) -> Operation[Template]:
        """One template with its steps."""
        return Operation("GET", f"/api/templates/{template_id}", model(Template))

    @call
    def run_template(
        self, template_id: str, inputs: dict[str, Any] | None = None, *, wait: float = 0
    ) -> Operation[Execution]:
        """Run a template directly, without making a workflow of it."""
        return start_operation(
            f"/api/templates/{template_id}/executions", inputs, wait, None, "api"
        )

    # Workflows

    @call
    def list_workflows(
        self,
        *,
        search: str | None = None,
        category: str | None = None,
        favorite: bool | None = None,
        active: bool | None = None,
        sort: Literal["updated_at", "name", "last_used"] = "updated_at",
        limit: int = 50,
        cursor: str | None = None,
    ) -> Operation[Page[WorkflowSummary]]:
        """A page of my workflows, most recently changed first (or by name, last used)."""
        params = {"q": search, "category": category, "favorite": favorite, "active": active}
        return Operation(
            "GET",
            "/api/workflows",
            model(Page[WorkflowSummary]),
            params={**params, "sort": sort, "limit": limit, "cursor": cursor},
        )

    @call
    def get_workflow(self, workflow_id: Id) -> Operation[Workflow]:
        """One of my workflows, with its definition and config."""
        return Operation("GET", f"/api/workflows/{workflow_id}", model(Workflow))

    @call
    def create_workflow(
        self,
        name: str,
        definition: dict[str, Any],
        *,
        description: str | None = None,
        category: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> Operation[Workflow]:
        """A new workflow from scratch; the definition is validated (422 with paths)."""
        body = {"name": name, "definition": definition, "description": description}
        body.update(category=category, config=config or {})
        return Operation("POST", "/api/workflows", model(Workflow), json=body)

    @call
    def create_workflow_from_template(
        self,
        template_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        category: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> Operation[Workflow]:
        """A new workflow made of a template (name, goal and category default to its)."""
        body = {"name": name, "description": description, "category": category}
        return Operation(
            "POST",
            f"/api/templates/{template_id}/workflows",
            model(Workflow),
            json={**body, "config": config or {}},
        )

    @call
    def update_workflow(
        self,
        workflow_id: Id,
        *,
        name: str | _Unset = UNSET,
        description: str | _Unset | None = UNSET,
        category: str | _Unset | None = UNSET,
        definition: dict[str, Any] | _Unset = UNSET,
        config: dict[str, Any] | _Unset = UNSET,
        is_active: bool | _Unset = UNSET,
        is_favorite: bool | _Unset = UNSET,
    ) -> Operation[Workflow]:
        """Change the fields given (a new definition or config is validated again)."""
        fields = {
            "name": name,
            "description": description,
            "category": category,
            "definition": definition,
            "config": config,
            "is_active": is_active,
            "is_favorite": is_favorite,
        }
        body = {key: value for key, value in fields.items() if value is not UNSET}
        return Operation("PATCH", f"/api/workflows/{workflow_id}", model(Workflow), json=body)

    @call
    def delete_workflow(self, workflow_id: Id) -> Operation[None]:
        """Delete a workflow and its executions."""
        return Operation("DELETE", f"/api/workflows/{workflow_id}", nothing)

    @call
    def export_workflow(
        self, workflow_id: Id, *, format: Literal["yaml", "json"] = "yaml"
    ) -> Operation[str]:
        """The workflow as a portable YAML or JSON document (what `import_workflow` takes)."""
        path = f"/api/workflows/{workflow_id}/export"
        return Operation("GET", path, text, params={"format": format})

    @call
    def import_workflow(
        self, document: str, *, format: Literal["yaml", "json"] = "yaml"
    ) -> Operation[Workflow]:
        """A new workflow from an exported document (YAML or JSON text)."""
        media = "application/json" if format == "json" else "application/yaml"
        return Operation(
            "POST",
            "/api/workflows/import",
            model(Workflow),
            content=document,
            headers={"Content-Type": media},
        )
