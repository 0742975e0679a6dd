// The frontends' operations, by name, exactly as tests/contract/operations/*.graphql has them,
// and `extended` to add the fields a frontend adds to one (e.g. `id` on gradebook cells).
import { readdirSync, readFileSync } from "node:fs";
import { Kind, parse, print, visit } from "graphql";

const OPERATIONS = new URL("../../contract/operations/", import.meta.url);

function definitions() {
  const found = new Map();
  for (const file of readdirSync(OPERATIONS).filter((name) => name.endsWith(".graphql")).sort()) {
    for (const definition of parse(readFileSync(new URL(file, OPERATIONS), "utf8")).definitions) {
      if (definition.kind === Kind.OPERATION_DEFINITION && definition.name) {
        found.set(definition.name.value, definition);
      }
    }
  }
  return found;
}

let cached;

/** The contract operation called `name` as a DocumentNode. */
export function operation(name) {
  cached ??= definitions();
  const definition = cached.get(name);
  if (!definition) throw new Error(`no contract operation called ${name}`);
  return { kind: Kind.DOCUMENT, definitions: [definition] };
}

/** The contract operation's text. */
export function operationText(name) {
  return print(operation(name));
}

/**
 * `document` with `extra` (a selection set's text, e.g. "id") added to the selection at `path`:
 * field names (response keys) from the operation's root, and "on Type" for an inline fragment.
 * Throws when the path is not there, so a contract change cannot silently drop the addition.
 */
export function extended(document, path, extra) {
  const additions = parse(`{ ${extra} }`).definitions[0].selectionSet.selections;
  let added = false;
  const walk = (selectionSet, rest) => {
    if (rest.length === 0) {
      added = true;
      return { ...selectionSet, selections: [...selectionSet.selections, ...additions] };
    }
    const [step, ...tail] = rest;
    return {
      ...selectionSet,
      selections: selectionSet.selections.map((selection) => {
        const matches =
          step.startsWith("on ") ?
            selection.kind === Kind.INLINE_FRAGMENT && selection.typeCondition?.name.value === step.slice(3)
          : selection.kind === Kind.FIELD && (selection.alias ?? selection.name).value === step;
        return matches && selection.selectionSet ?
            { ...selection, selectionSet: walk(selection.selectionSet, tail) }
          : selection;
      }),
    };
  };
  const result = visit(document, {
    OperationDefinition: (node) => ({ ...node, selectionSet: walk(node.selectionSet, path) }),
  });
  if (!added) throw new Error(`${path.join(" > ")} is not in ${document.definitions[0].name?.value}`);
  return result;
}
