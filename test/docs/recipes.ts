// Reading the executable recipes out of a Markdown file. A ```bash block is executable and must be
// marked `<!-- recipe: <name> -->` on the line before it; illustrative blocks use ```sh (or no
// language), so nothing is run by accident and no recipe block can be forgotten unmarked.

export interface RecipeBlock {
  recipe: string;
  /** 1-based position of the block within its recipe. */
  index: number;
  /** 1-based line of the opening fence in the Markdown file. */
  line: number;
  code: string;
}

export interface ParsedRecipes {
  recipes: Map<string, RecipeBlock[]>;
  /** ```bash blocks without a recipe marker (a mistake: mark them, or use ```sh). */
  unmarked: number[];
}

export function parseRecipes(markdown: string): ParsedRecipes {
  const lines = markdown.split('\n');
  const recipes = new Map<string, RecipeBlock[]>();
  const unmarked: number[] = [];
  let pending: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!--\s*recipe:\s*([a-z0-9-]+)\s*-->\s*$/.exec(lines[i]);
    if (marker) {
      pending = marker[1];
      continue;
    }
    const fence = /^```(\S*)\s*$/.exec(lines[i]);
    if (!fence) {
      if (lines[i].trim() !== '') pending = undefined;
      continue;
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    if (fence[1] === 'bash') {
      if (!pending) unmarked.push(start + 1);
      else {
        const blocks = recipes.get(pending) ?? [];
        blocks.push({ recipe: pending, index: blocks.length + 1, line: start + 1, code: body.join('\n') });
        recipes.set(pending, blocks);
      }
    }
    pending = undefined;
  }
  return { recipes, unmarked };
}

/**
 * One bash script per recipe, run as a reader pastes it into one terminal: the blocks in order,
 * sharing variables, stopping at the first failing command. Markers on stdout say which block
 * ran and which command failed; stderr is merged into stdout so the order is kept.
 */
export function recipeScript(blocks: RecipeBlock[], rewrite: (code: string) => string = (c) => c): string {
  return [
    'set -Eeuo pipefail',
    'exec 2>&1',
    `trap 'echo "@@recipe-failed-command: $BASH_COMMAND"' ERR`,
    ...blocks.flatMap((b) => [`echo "@@recipe-block ${b.index}"`, rewrite(b.code)]),
    'echo "@@recipe-done"',
    '',
  ].join('\n');
}

/** A Node or V8 stack frame, as printed by an uncaught error: "    at fn (file.ts:12:5)". */
export const STACK_FRAME = /^\s+at (?:.+ \()?(?:file:\/\/)?[^\s()]+:\d+:\d+\)?\s*$/m;
