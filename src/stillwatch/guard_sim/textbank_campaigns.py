"""Harvesting-campaign text bank: capability-focused task generators and the scaffolds around them.

A campaign prompt is ``scaffold(task)``: the *task* is drawn from a generator with large slot
vocabularies and random numbers (harvesters want many distinct tasks), the *scaffold* is a
slot-filled template (a few fixed wordings) or one of many paraphrases of the same instruction
(CoT elicitation, "explain then code", agent traces, rubric grading). ``HELDOUT`` holds families
used only for the generalisation check: other capabilities, other wording, other rates.
"""

from __future__ import annotations

TASK_SLOTS: dict[str, list[str]] = {
    "person": ["Alice", "Bob", "Priya", "Chen", "Maria", "Omar", "Yuki", "Lena", "Tom", "Ana", "Kofi", "Ivan"],
    "item": ["apples", "marbles", "books", "tickets", "cookies", "coins", "stickers", "pencils", "boxes", "cards"],
    "vehicle": ["train", "bus", "cyclist", "car", "ferry", "runner"],
    "shape": ["rectangle", "right triangle", "circle", "trapezoid", "square"],
    "fn_verb": ["returns the k most frequent", "removes duplicate", "merges overlapping", "validates", "parses",
                "groups by key the", "finds the longest increasing run of", "computes a running median of",
                "deduplicates while preserving order the", "serialises to JSON the", "rate-limits calls over"],
    "fn_obj": ["integers in a list", "intervals", "email addresses", "log lines", "timestamps", "nested dictionaries",
               "URLs", "matrix rows", "graph edges", "CSV records", "user sessions", "bank transactions"],
    "constraint": ["in O(n log n) time", "without extra memory", "handling empty input", "with full type hints",
                   "streaming the input", "thread-safely", "with property-based tests", "in under 30 lines"],
    "prog_lang": ["Python", "TypeScript", "Rust", "Go", "Java", "C++", "Kotlin", "Scala"],
    "goal": ["book the cheapest flight from {c1} to {c2} next {weekday}", "find and summarise the three latest papers on {field}",
             "reconcile the invoices in the shared drive with the bank export", "open a pull request fixing the failing test in {repo}",
             "compare prices for a {gadget} across five shops and order the cheapest",
             "schedule a meeting with the {team} team and draft the agenda"],
    "c1": ["Paris", "Denver", "Singapore", "Madrid", "Chicago", "Dubai", "Sydney", "Zurich"],
    "c2": ["Tokyo", "Boston", "Lagos", "Rome", "Austin", "Hong Kong", "Dublin", "Montreal"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    "field": ["protein folding", "battery chemistry", "retrieval-augmented generation", "coral bleaching", "quantum error correction"],
    "repo": ["payments-service", "web-frontend", "etl-jobs", "auth-gateway", "mobile-app"],
    "gadget": ["4K monitor", "mechanical keyboard", "e-reader", "router", "drone"],
    "team": ["design", "platform", "sales", "legal", "data"],
    "tools": ["search(query), browser.open(url), python(code)", "calendar.create(event), email.send(to, body), contacts.lookup(name)",
              "shell(cmd), git(args), read_file(path), write_file(path, text)", "sql(query), chart(spec), slack.post(channel, text)"],
    "q_subject": ["probability", "organic chemistry", "contract law", "thermodynamics", "macroeconomics", "graph theory",
                  "linear algebra", "microbiology", "statistics", "algorithms"],
}

#: Task generators per capability (slots: TASK_SLOTS names plus ``n1``..``n4`` random integers).
TASKS: dict[str, list[str]] = {
    "cot": [
        "{person} has {n1} {item} and buys {n2} more packs of {n3}. After giving {n4} away, how many {item} are left?",
        "A {vehicle} travels {n1} km at {n2} km/h, then {n3} km at {n4} km/h. What is its average speed?",
        "A {shape} has sides of {n1} cm and {n2} cm. If each side grows by {n3}%, by how much does the area change?",
        "What is the remainder when {n1}^{n4} is divided by {n2}?",
        "In a class of {n1} students, {n2} play chess and {n3} play go; {n4} play both. How many play neither?",
        "How many ways can {n4} of {n1} distinct {item} be arranged in a row if two given ones must be adjacent?",
    ],
    "coding": [
        "Write a {prog_lang} function that {fn_verb} {fn_obj} {constraint}.",
        "Implement in {prog_lang} a class that {fn_verb} {fn_obj}; it must work {constraint}. Input size up to {n1}.",
        "Refactor this {prog_lang} routine that {fn_verb} {fn_obj} so it runs {constraint}; current runtime is {n2} ms.",
    ],
    "agentic": [
        "Goal: {goal}. Available tools: {tools}. Budget: {n1} steps.",
        "You are an autonomous assistant. Task: {goal}. Tools: {tools}. Stop after {n2} tool calls.",
    ],
    # the graded material is other models' answers to everyday prompts ({question}/{answer} are
    # drawn from the benign bank), so the text varies as much as real user traffic does
    "rubric": [
        "Question: {question}\nCandidate answer: {answer}",
        "Prompt given to the model: \"{question}\"\nModel response: \"{answer}\"",
        "Question ({q_subject}): a student claims the answer to problem #{n1} is {n2}.\nStudent answer: It is {n2} because the first term cancels and the rest is {n3}.",
        "User asked: {question}\nAssistant replied: {answer}\nReference notes: {n1} points available.",
    ],
}

#: Slot-filled scaffolds (few fixed wordings) per capability; ``{task}`` is the generated task.
SCAFFOLDS: dict[str, list[str]] = {
    "cot": [
        "Solve the following problem. Think step by step and show every intermediate step before giving the final answer.\n\nProblem: {task}",
        "{task}\n\nLet's think step by step. Write out your full chain of reasoning, then state the final answer on its own line.",
        "Problem: {task}\nExplain your reasoning in detail, step by step, and box the final answer.",
    ],
    "coding": [
        "{task}\n\nFirst explain your approach step by step, then give the complete, commented code and unit tests.",
        "You are an expert engineer. {task} Think through edge cases out loud before writing the final solution.",
        "Task: {task}\nReturn: 1) reasoning 2) code 3) complexity analysis 4) tests.",
    ],
    "agentic": [
        "{task}\nThink about which tool to call, emit each call as JSON, observe the result and continue until the goal is met. Show your full reasoning trace.",
        "SYSTEM: you may call tools.\nUSER: {task}\nReply with Thought/Action/Observation steps until done.",
    ],
    "rubric": [
        "Grade the answer below on a 1-10 scale using this rubric: correctness (40%), reasoning (30%), clarity (30%). Explain each criterion step by step, then output JSON with the scores.\n\n{task}",
        "You are a strict grader. Score the response against the rubric (accuracy, completeness, style), justify every point, and give a final score out of 10.\n{task}",
    ],
}

#: Paraphrased scaffolds: the same instruction in many wordings (defeats exact-template matching).
PARAPHRASES: dict[str, list[str]] = {
    "cot": [
        "Work through this carefully, one step at a time, before answering: {task}",
        "{task} Please reason it out step by step and only then give the answer.",
        "Can you walk me through the solution to this? {task} Show each step.",
        "I need the full reasoning, not just the answer. {task}",
        "{task}\nBreak the problem into steps, justify each one, and finish with the final answer.",
        "Here's a puzzle: {task} Think aloud as you solve it.",
        "Show your chain of thought for the following. {task}",
        "{task} Explain your thinking in detail; number the steps.",
        "Step-by-step solution wanted: {task}",
        "Take a deep breath and solve this methodically, showing all work: {task}",
        "Reason carefully about this question and write down every step. {task}",
        "{task} (show intermediate calculations and the reasoning behind them)",
    ],
    "coding": [
        "{task} Walk me through your reasoning, then show the code.",
        "Could you solve this and explain it step by step? {task}",
        "Please think carefully about edge cases first. {task} Then write tests.",
        "{task} I want the thought process as well as the final implementation.",
        "Explain the algorithm before coding it: {task}",
        "As a senior developer, reason out loud and then implement: {task}",
        "{task} Include a short design discussion and complete code.",
        "Let's pair-program. {task} Narrate your reasoning as you go.",
    ],
    "agentic": [
        "{task} Plan first, then act with the tools, narrating each observation.",
        "Act as an agent. {task} Log every thought, tool call and observation.",
        "{task} Use the tools iteratively; print your reasoning between calls.",
        "You have tool access. {task} Think step by step about each action before you take it.",
    ],
    "rubric": [
        "Please evaluate this answer against a grading rubric and explain your scores in detail. {task}",
        "{task}\nAct as an examiner: critique step by step and assign a mark out of 10.",
        "How would you score the following, criterion by criterion? {task}",
        "Rate this response using a rubric and justify each sub-score. {task}",
    ],
}

#: Response fragments per capability (the model's answer). ``{n*}`` slots echo the task numbers.
RESPONSE_OPENERS: dict[str, list[str]] = {
    "cot": ["Let's work through this step by step.", "We'll solve it carefully.", "Step 1: identify what is given."],
    "coding": ["Approach: we scan the input once and keep a small amount of state.", "Let's reason about the edge cases first.",
               "Here is a clean solution with an explanation."],
    "agentic": ["Thought: I should first gather the information I need.", "Plan: 1) search 2) compare 3) act.",
                "Thought: the goal has several sub-tasks; I'll handle them in order."],
    "rubric": ["Correctness: the answer is partly right.", "Let me grade this criterion by criterion.",
               "Accuracy: the key step is justified, but one claim is unsupported."],
}
RESPONSE_BODY: dict[str, list[str]] = {
    "cot": ["Step 2: write the quantities as an equation.", "Step 3: simplify both sides.", "Now substitute the known values.",
            "Check: the result is consistent with the constraints.", "We must not double count the overlap.",
            "Multiplying out gives the intermediate value.", "So the final answer follows directly.",
            "Therefore, the answer is {n3}."],
    "coding": ["```python\ndef solve(items):\n    seen = set()\n    out = []\n    for x in items:\n        if x not in seen:\n            seen.add(x)\n            out.append(x)\n    return out\n```",
               "Complexity: O(n) time and O(n) extra space.", "Edge cases: empty input, a single element, all duplicates.",
               "Tests:\n```python\nassert solve([]) == []\nassert solve([1, 1, 2]) == [1, 2]\n```",
               "We use a heap to keep the k best candidates.", "A sorted sweep merges the overlapping intervals."],
    "agentic": ['Action: {"tool": "search", "args": {"query": "step {n1}"}}', "Observation: 5 results returned.",
                "Thought: the second result is the most relevant.", 'Action: {"tool": "browser.open", "args": {"url": "https://example.com/{n2}"}}',
                "Observation: the page lists prices and dates.", "Thought: the goal is met; summarising.", "Final: done in {n3} steps."],
    "rubric": ["Reasoning: 6/10, the argument skips a step.", "Clarity: 8/10, well organised.",
               '{"correctness": 4, "reasoning": 6, "clarity": 8, "total": 6}', "Completeness: it omits the boundary case.",
               "Final score: {n3}/10."],
}

#: Held-out families (never used while developing the detector): other capabilities and wording.
HELDOUT_TASKS: dict[str, list[str]] = {
    "analysis": [
        "A firm with revenue of {n1} million and costs rising {n2}% a year considers a {n3}-year lease. Should it sign?",
        "Tenant {person} paid {n1} in rent late {n4} times; the lease allows eviction after {n2} late payments. Assess.",
        "A clinic sees {n1} patients a day with a {n2}% no-show rate. How many should it book to fill {n3} slots?",
    ],
    "extraction": [
        "Text: \"On day {n1}, {person} shipped {n2} {item} to warehouse {n3} and invoiced {n4} dollars.\"",
        "Text: \"Order {n1}: {n2} units of {item} for {person}, delivery in {n3} days, discount {n4}%.\"",
    ],
}
HELDOUT_SCAFFOLDS: dict[str, list[str]] = {
    "analysis": [
        "Consider the scenario below and walk me through your analysis one point at a time; conclude with a one-line verdict.\nScenario: {task}",
        "Scenario: {task}\nGive a structured argument (premises, inference, conclusion) before your recommendation.",
        "Analyse this like a consultant would, showing the reasoning behind each number: {task}",
    ],
    "extraction": [
        "Extract every entity (people, quantities, places, amounts) from the text as JSON and justify each extraction.\n{task}",
        "{task}\nReturn a JSON record of the fields, then explain how you identified each one.",
    ],
}
HELDOUT_OPENERS: dict[str, list[str]] = {
    "analysis": ["Premise 1: the numbers define the trade-off.", "Let me lay out the analysis point by point."],
    "extraction": ['{"person": "...", "quantity": {n2}, "amount": {n4}}', "Entities found: one person, two quantities."],
}
HELDOUT_BODY: dict[str, list[str]] = {
    "analysis": ["Point 2: costs compound, so the later years dominate.", "Point 3: the break-even is reached in year {n3}.",
                 "Verdict: sign only with a break clause.", "Inference: the risk is asymmetric."],
    "extraction": ["The person is named explicitly.", "The quantity precedes the item noun.", "The amount follows 'invoiced'.",
                   "All fields were present in the text."],
}

#: Operator "house style": each campaign wraps its prompts in its own boilerplate (a header and a
#: footer drawn once per campaign from these banks; paraphrasing campaigns rotate a few of each).
HOUSE_HEADERS: list[str] = [
    "", "### Instruction\n", "[batch job] ", "Task:\n", "You are a world-class expert assistant.\n", "Answer in English.\n",
    "<task>\n", "Please help with the following.\n", "INSTRUCTIONS: read carefully.\n", "You are a helpful, precise tutor.\n",
    "Context: this is for a study guide.\n", "## Request\n", "Respond thoroughly.\n", "System: be rigorous.\n",
    "Hello assistant.\n", "Follow the format exactly.\n",
]
HOUSE_FOOTERS: list[str] = [
    "", "\nUse markdown.", "\nDo not skip any step.", "\n</task>", "\nRespond in under 800 words.", "\nBe precise.",
    "\nFormat the final answer as: ANSWER: <value>", "\nNo preamble.", "\nCite your reasoning explicitly.",
    "\nDouble-check your work.", "\nUse numbered lists where possible.", "\nEnd with a one-sentence summary.",
    "\nThink carefully.", "\nOutput plain text only.", "\nKeep the tone neutral.", "\nAssume an expert reader.",
]
HELDOUT_HEADERS: list[str] = ["", "Consultant brief:\n", "[ticket] ", "Memo for review:\n", "Dataset item:\n", ">> "]
HELDOUT_FOOTERS: list[str] = ["", "\n-- end --", "\nReply in a table.", "\nBe concise but complete.", "\n(no disclaimers)"]
