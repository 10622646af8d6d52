// Tool use as Groq's OpenAI-compatible API accepts and returns it (console.groq.com/docs/tool-use):
// `tools` of type "function" with a name of at most 64 letters, digits, _ or -, and a JSON
// Schema object as parameters; `tool_choice` "none", "auto", "required" or one named function
// that is among the tools; a tool call answered as message.tool_calls with finish_reason
// "tool_calls" (streamed: one delta carrying the whole call), and a call the model wrote badly
// as Groq's 400 tool_use_failed with failed_generation.

/** What a scripted request does with tools: call one, or fail to (Groq's tool_use_failed). */
export type ToolBehaviour =
  | { toolCall: { name: string; arguments: string } }
  | { toolUseFailed: string };

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const CHOICES = new Set(["none", "auto", "required"]);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Why Groq would answer 400 to the request's tools or tool_choice, or null when it accepts them. */
export function toolsProblem(body: Record<string, unknown>): string | null {
  const { tools, tool_choice: choice } = body;
  const names: string[] = [];
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return "'tools' : value must be an array";
    if (tools.length > 128) return "'tools' : at most 128 tools are supported";
    for (const [i, tool] of tools.entries()) {
      if (!isObject(tool)) return `'tools.${i}' : value must be an object`;
      if (tool.type !== "function") return `'tools.${i}.type' : value is not one of the allowed values ['function']`;
      const fn = tool.function;
      if (!isObject(fn)) return `'tools.${i}.function' : property 'function' is missing`;
      if (typeof fn.name !== "string" || !NAME.test(fn.name)) {
        return `'tools.${i}.function.name' : value must be 1 to 64 letters, digits, underscores or dashes`;
      }
      if (fn.description !== undefined && typeof fn.description !== "string") {
        return `'tools.${i}.function.description' : value must be a string`;
      }
      if (fn.parameters !== undefined && (!isObject(fn.parameters) || fn.parameters.type !== "object")) {
        return `'tools.${i}.function.parameters' : value must be a JSON Schema object with type 'object'`;
      }
      names.push(fn.name);
    }
  }
  if (choice === undefined) return null;
  if (tools === undefined && choice !== "none") return "'tool_choice' : tool_choice is only allowed when tools are specified";
  if (typeof choice === "string") {
    return CHOICES.has(choice) ? null : "'tool_choice' : value is not one of the allowed values ['none', 'auto', 'required']";
  }
  if (!isObject(choice) || choice.type !== "function" || !isObject(choice.function) || typeof choice.function.name !== "string") {
    return "'tool_choice' : value must be 'none', 'auto', 'required' or {type: 'function', function: {name}}";
  }
  return names.includes(choice.function.name)
    ? null
    : `'tool_choice' : function '${choice.function.name}' is not among the tools`;
}

/** Whether a scripted tool call may be made: tools offered, and tool_choice not "none". */
export function mayCallTools(body: Record<string, unknown>): boolean {
  return Array.isArray(body.tools) && body.tools.length > 0 && body.tool_choice !== "none";
}

/** Groq's 400 for a tool call the model could not write properly. */
export function toolUseFailed(failedGeneration: string) {
  return {
    error: {
      message: "Failed to call a function. Please adjust your prompt. See 'failed_generation' for more details.",
      type: "invalid_request_error",
      code: "tool_use_failed",
      failed_generation: failedGeneration,
    },
  };
}

export function toolCallOf(call: { name: string; arguments: string }, id: string) {
  return { id, type: "function" as const, function: { name: call.name, arguments: call.arguments } };
}
