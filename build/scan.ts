// A scan of JavaScript that tells code from text, for the build's
// edits of the bundle (build/eager.ts, build/bundle.ts).

/**
 * The bracket depth (`{`, `(`, `[`) at each offset of JavaScript,
 * or -1 inside a string, the text of a template literal, a regular expression
 * or a comment; undefined when the brackets do not balance (the scan misread
 * something).
 */
export function bracketDepths(code: string): Int32Array | undefined {
  const depth = new Int32Array(code.length + 1);
  // Open brackets; a template literal's `${` pushes "`" so that its `}` resumes the literal.
  const stack: string[] = [];
  let last = ""; // the last significant character, to tell a regex from a division
  let word = ""; // the last identifier or keyword
  let i = 0;
  const template = () => {
    // From just after a backquote (or a `}` closing `${`) to the end of the literal or a `${`.
    while (i < code.length) {
      const c = code[i];
      if (c === "\\") i += 2;
      else if (c === "`") return void i++;
      else if (c === "$" && code[i + 1] === "{") {
        stack.push("`");
        i += 2;
        return;
      } else i++;
    }
  };
  while (i < code.length) {
    const start = i;
    const c = code[i];
    let text = true; // the token is not code: a string, comment, regex or template text
    if (c === '"' || c === "'") {
      i++;
      while (i < code.length && code[i] !== c) i += code[i] === "\\" ? 2 : 1;
      i++;
      last = c;
    } else if (c === "`") {
      i++;
      template();
      last = "`";
    } else if (c === "/" && code[i + 1] === "/") {
      while (i < code.length && code[i] !== "\n") i++;
    } else if (c === "/" && code[i + 1] === "*") {
      i = code.indexOf("*/", i + 2) + 2;
      if (i === 1) return undefined;
    } else if (
      c === "/" && (last === "" || "(,=:[!&|?{};+-*%<>~^".includes(last) ||
        /^(return|typeof|case|in|of|void|delete|new|throw|else|do|instanceof|yield|await)$/.test(
            word,
          ) && last === word.at(-1))
    ) {
      i++;
      let inClass = false;
      while (i < code.length && (code[i] !== "/" || inClass)) {
        if (code[i] === "\\") i++;
        else if (code[i] === "[") inClass = true;
        else if (code[i] === "]") inClass = false;
        i++;
      }
      i++;
      while (/[a-z]/.test(code[i] ?? "")) i++;
      last = "/";
    } else if (c === "{" || c === "(" || c === "[") {
      stack.push(c);
      i++;
      last = c;
      text = false;
    } else if (c === "}" || c === ")" || c === "]") {
      const open = stack.pop();
      if (open === "`" && c === "}") {
        i++;
        template();
        last = "`";
      } else {
        if (open !== { "}": "{", ")": "(", "]": "[" }[c]) return undefined;
        i++;
        last = c;
        text = false;
      }
    } else if (/[\w$]/.test(c)) {
      while (i < code.length && /[\w$]/.test(code[i])) i++;
      word = code.slice(start, i);
      last = code[i - 1];
      text = false;
    } else {
      i++;
      if (!/\s/.test(c)) last = c;
      text = false;
    }
    depth.fill(text ? -1 : stack.length, start, i);
  }
  return stack.length === 0 ? depth : undefined;
}
