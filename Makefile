# Thin wrappers around docker compose and npm; docs/stack.md explains each step.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)

.PHONY: help repo-setup repo-start repo-status repo-logs repo-clean test

help:
	@echo 'make repo-setup    create .env from .env.example (never overwrites an existing .env)'
	@echo 'make repo-start    build and start the stack (docker compose up -d)'
	@echo 'make repo-status   what is mirrored, last sync, next run'
	@echo 'make repo-logs     follow the worker log'
	@echo 'make repo-clean    stop the stack and DELETE the mirror volume (asks; CONFIRM=1 skips)'
	@echo 'make test          npm test: typecheck, lint, tests (installs nginx, busybox, npm packages if missing)'

repo-setup:
	@if [ -f .env ]; then echo '.env exists: left as it is'; else cp .env.example .env && echo 'created .env from .env.example'; fi

repo-start:
	$(COMPOSE) up -d --build

repo-status:
	$(COMPOSE) exec worker openwrt-mirror status

repo-logs:
	$(COMPOSE) logs -f worker

repo-clean:
	@if [ "$(CONFIRM)" != 1 ]; then \
	  printf 'Stop the stack and delete the mirror volume with everything downloaded? Type yes: '; \
	  read answer; [ "$$answer" = yes ] || { echo 'nothing deleted'; exit 1; }; \
	fi
	$(COMPOSE) down -v

# On a fresh machine: installs nginx and busybox when missing, and the npm packages when
# node_modules is missing or older than the lock file.
test: node_modules/.package-lock.json
	scripts/install-test-tools
	npm test

node_modules/.package-lock.json: package-lock.json
	npm ci
