"""Benign text bank: what ordinary users of a chat-model API ask, and what the model answers.

Each topic has prompt templates (slots in braces), response openers that echo the slots, and body
sentences; :data:`SLOTS` holds the slot vocabularies. The topic weights follow the broad shape of
published chat-usage studies (writing and practical guidance dominate, then coding, information
seeking, learning/homework, personal advice) — rough proportions, not a fitted distribution.
"""

from __future__ import annotations

SLOTS: dict[str, list[str]] = {
    "dish": ["lasagna", "banana bread", "chicken curry", "pad thai", "risotto", "shakshuka", "beef stew",
             "vegan chili", "pancakes", "sourdough bread", "miso soup", "tacos al pastor", "falafel",
             "apple pie", "ramen", "paella", "mac and cheese", "lentil soup", "tiramisu", "dumplings",
             "fried rice", "quiche", "moussaka", "pesto pasta", "granola"],
    "ingredient": ["eggs", "butter", "milk", "gluten", "onions", "garlic", "sugar", "an oven", "yeast",
                   "cream", "soy sauce", "fresh herbs", "a blender", "wine", "nuts", "tomatoes"],
    "city": ["Lisbon", "Kyoto", "Mexico City", "Berlin", "Nairobi", "Toronto", "Hanoi", "Buenos Aires",
             "Edinburgh", "Istanbul", "Seoul", "Marrakesh", "Oslo", "Melbourne", "Prague", "Lima",
             "Cape Town", "Vancouver", "Bangkok", "Copenhagen"],
    "days": ["two", "three", "four", "five", "six", "seven", "ten"],
    "budget": ["$500", "$800", "$1,200", "$2,000", "a tight budget", "about 1000 euros"],
    "lang": ["Python", "JavaScript", "TypeScript", "Go", "Rust", "Java", "C#", "SQL", "Bash", "Kotlin",
             "R", "C++", "PHP", "Swift"],
    "error": ["a KeyError", "an IndexError", "a null pointer exception", "a segmentation fault",
              "'undefined is not a function'", "a type mismatch error", "a deadlock",
              "a CORS error", "a 502 from the proxy", "an out-of-memory error", "a timeout"],
    "action": ["read a CSV with 2 million rows", "call the API in a loop", "deploy to Kubernetes",
               "parse dates from user input", "run the tests in parallel", "update the dictionary while iterating",
               "connect to Postgres from Docker", "upload a large file", "sort objects by two keys"],
    "concept": ["recursion", "compound interest", "photosynthesis", "the Monty Hall problem", "TCP handshakes",
                "inflation", "gradient descent", "the French Revolution", "supply and demand",
                "vaccines", "black holes", "public-key cryptography", "the electoral college",
                "mitochondria", "Bayes' theorem", "continental drift", "the stock market"],
    "audience": ["a ten-year-old", "my grandmother", "a first-year student", "a busy manager", "a beginner",
                 "someone with no math background"],
    "recipient": ["my landlord", "my manager", "a client", "my child's teacher", "the HR department",
                  "a hiring manager", "my neighbour", "customer support", "my professor"],
    "email_goal": ["asking for a deadline extension", "declining a meeting politely", "complaining about a late delivery",
                   "requesting a refund", "following up after an interview", "asking for a raise",
                   "apologising for a mistake", "reporting a broken heater"],
    "product": ["handmade soap", "a noise-cancelling headset", "a standing desk", "organic coffee beans",
                "a budgeting app", "a yoga mat", "a smart thermostat", "leather wallets", "a kids' bike"],
    "symptom": ["a headache that won't go away", "trouble sleeping", "lower back pain", "a sore throat",
                "seasonal allergies", "feeling tired all the time", "a sprained ankle", "heartburn"],
    "money_q": ["pay off my credit card or invest", "open a Roth IRA", "refinance my mortgage",
                "build an emergency fund", "start budgeting with irregular income", "split rent fairly"],
    "subject": ["algebra", "chemistry", "world history", "biology", "economics", "physics", "literature",
                "statistics", "geography"],
    "hw_task": ["solve 3x + 7 = 22", "balance the equation H2 + O2 -> H2O",
                "explain the causes of World War I", "find the derivative of x^3 sin(x)",
                "summarise chapter 4 of Of Mice and Men", "compute the mean and median of 4, 8, 15, 16, 23, 42",
                "describe how a bill becomes a law", "convert 72 degrees Fahrenheit to Celsius"],
    "text_kind": ["cover letter", "wedding toast", "birthday message", "LinkedIn summary", "product review",
                  "short story opening", "poem about autumn", "speech for a retirement party", "blog intro"],
    "tone": ["friendly", "formal", "funny", "heartfelt", "concise", "confident", "casual"],
    "phrase": ["Where is the train station?", "I would like to book a table for two.",
               "Thank you for your patience.", "Could you send me the invoice?",
               "We are running ten minutes late.", "Happy birthday, my friend!"],
    "target_lang": ["Spanish", "French", "German", "Japanese", "Portuguese", "Italian", "Korean", "Hindi"],
    "relation": ["my sister", "a coworker", "my roommate", "my partner", "a close friend", "my teenage son"],
    "conflict": ["keeps borrowing money", "takes credit for my work", "never does the dishes",
                 "forgot our anniversary", "is always late", "ignores my messages"],
    "hobby": ["learn the guitar", "start running", "get into birdwatching", "learn to draw",
              "start a vegetable garden", "learn chess", "start journaling", "pick up photography"],
    "book": ["1984", "Pride and Prejudice", "The Great Gatsby", "Dune", "Sapiens", "Beloved",
             "The Hobbit", "Crime and Punishment", "Atomic Habits"],
    "tool": ["Excel", "Google Sheets", "Notion", "Figma", "Git", "Docker", "VS Code", "Photoshop", "Jira"],
    "task": ["remove duplicate rows", "make a pivot table", "undo the last commit", "set up a kanban board",
             "merge two columns", "write a VLOOKUP", "create a reusable template", "free up disk space"],
    "pet": ["puppy", "cat", "rabbit", "parrot", "hamster", "senior dog"],
    "pet_issue": ["won't stop chewing shoes", "scratches the sofa", "is not eating", "barks at night",
                  "is afraid of the car", "needs to lose weight"],
}

#: Human wrappers: optional greetings before and remarks after a prompt.
PREFIXES: list[str] = ["", "", "", "", "hey, ", "Hi! ", "Quick question: ", "ok so ", "Hello, ", "Can you help? ",
                       "I need some help. ", "Sorry if this is dumb, but ", "hmm, "]
SUFFIXES: list[str] = ["", "", "", "", " Thanks!", " thanks", " Please keep it short.", " Be honest.",
                       " Bullet points please.", " Explain like I'm new to this.", " ty", " :)"]

TOPICS: dict[str, dict] = {
    "cooking": {
        "weight": 6,
        "prompts": ["How do I make {dish} without {ingredient}?", "What's a good substitute for {ingredient} in {dish}?",
                    "Give me a simple recipe for {dish} for a weeknight.", "Can I freeze {dish}? How long does it keep?",
                    "my {dish} always turns out bland, what am I doing wrong"],
        "openers": ["Good news: {dish} works fine without {ingredient} if you adjust a couple of things.",
                    "Here is a straightforward way to approach {dish}.", "For {dish}, the key is balance and timing."],
        "body": ["Season in layers rather than all at the end.", "Taste as you go and adjust the salt last.",
                 "Most recipes tolerate a swap if you keep the moisture about the same.",
                 "Let it rest for ten minutes before serving so the flavours settle.",
                 "A splash of acid, like lemon juice or vinegar, brightens a flat dish.",
                 "Cool it quickly and store it in an airtight container.",
                 "Frozen portions keep well for about three months.",
                 "Toast the spices briefly in oil to wake them up."],
    },
    "travel": {
        "weight": 5,
        "prompts": ["Plan a {days}-day trip to {city} on {budget}.", "What should I not miss in {city}?",
                    "Is {city} safe for solo travellers?", "best time of year to visit {city}?",
                    "Help me pack for {days} days in {city}."],
        "openers": ["{city} is a great choice, and {days} days is enough to see the highlights.",
                    "Here is a relaxed itinerary for {city}.", "A few practical tips for {city}:"],
        "body": ["Start with a walking tour to get your bearings.", "Book popular museums a few days ahead.",
                 "Public transport is usually cheaper and faster than taxis.",
                 "Keep one afternoon unplanned for wandering.", "Try the local markets for inexpensive food.",
                 "Carry a copy of your passport separately from the original.",
                 "Shoulder season brings smaller crowds and lower prices.", "Pack layers; evenings get cool."],
    },
    "coding_help": {
        "weight": 11,
        "prompts": ["Why does my {lang} code throw {error} when I {action}?",
                    "How do I {action} in {lang}?", "Can you review this {lang} snippet? I get {error}.",
                    "what's the idiomatic way in {lang} to {action}", "Explain {error} in {lang} like I'm a junior dev."],
        "openers": ["In {lang}, {error} usually means the data is not in the shape the code expects.",
                    "Here is how you can {action} in {lang}.", "Good question; this trips up a lot of {lang} developers."],
        "body": ["Add a check before the failing line to see what the value actually is.",
                 "Process the data in chunks instead of loading everything into memory.",
                 "Wrap the call in a retry with exponential backoff.",
                 "Copy the collection before you modify it inside the loop.",
                 "Read the full stack trace from the bottom up to find the first line in your code.",
                 "Write a small failing test first, then fix the code until it passes.",
                 "Pin your dependency versions so the behaviour is reproducible.",
                 "Log the inputs at the boundary so you can replay the failure."],
    },
    "explain": {
        "weight": 7,
        "prompts": ["Explain {concept} to {audience}.", "Can you explain step by step how {concept} works?",
                    "What is {concept}, in simple terms?", "why does {concept} matter?",
                    "Give me an analogy for {concept}."],
        "openers": ["Think of {concept} like this.", "Here is {concept} in plain words, aimed at {audience}.",
                    "Let's build up {concept} one step at a time."],
        "body": ["The core idea is simpler than the jargon makes it sound.",
                 "Start with a concrete example and the general rule follows.",
                 "Each step depends on the one before, which is why order matters.",
                 "A common misconception is that it happens all at once.",
                 "Scientists measured this carefully before the theory was accepted.",
                 "If you remember one thing, remember the feedback loop.",
                 "The same pattern shows up in many other places."],
    },
    "email": {
        "weight": 9,
        "prompts": ["Write an email to {recipient} {email_goal}.", "Help me write a {tone} email to {recipient} {email_goal}.",
                    "can you make this email to {recipient} sound more {tone}", "Draft a short message {email_goal}."],
        "openers": ["Subject: A quick note\n\nDear {recipient},", "Here is a {tone} draft you can adapt:",
                    "Hi,\n\nI hope you are well."],
        "body": ["I wanted to reach out about a matter that is important to me.",
                 "I would really appreciate your understanding here.",
                 "Please let me know if there is anything else you need from me.",
                 "I am happy to discuss this at a time that suits you.",
                 "Thank you in advance for your help.", "Best regards,", "I look forward to hearing from you."],
    },
    "writing": {
        "weight": 8,
        "prompts": ["Write a {tone} {text_kind}.", "Help me with a {text_kind} for {recipient}.",
                    "Make my {text_kind} more {tone}.", "Give me three openings for a {text_kind}."],
        "openers": ["Here is a {tone} {text_kind} you can make your own.", "Try this {text_kind}:",
                    "Sure, here is a first draft."],
        "body": ["Every good story starts with a small surprise.", "The morning light fell across the kitchen table.",
                 "I have learned more from my mistakes than from my successes.",
                 "We gather today to celebrate someone truly special.",
                 "Autumn arrives quietly, one yellow leaf at a time.",
                 "What I bring is curiosity, care and a habit of finishing what I start.",
                 "Here's to many more years of laughter."],
    },
    "health": {
        "weight": 4,
        "prompts": ["I have {symptom}, what could it be?", "home remedies for {symptom}?",
                    "When should I see a doctor about {symptom}?"],
        "openers": ["I'm not a doctor, but {symptom} has several common causes.",
                    "Here are some general, non-medical suggestions for {symptom}."],
        "body": ["Stay hydrated and get enough rest.", "If it gets worse or lasts more than a week, see a professional.",
                 "Keeping a simple diary can help you spot triggers.", "Gentle movement often helps more than bed rest.",
                 "Over-the-counter options exist, but read the label carefully."],
    },
    "money": {
        "weight": 4,
        "prompts": ["Should I {money_q}?", "How do I {money_q}?", "explain the pros and cons: {money_q}"],
        "openers": ["Whether to {money_q} depends on your interest rates and goals.",
                    "Here is a simple way to think about it."],
        "body": ["Paying off high-interest debt is a guaranteed return.", "Keep three to six months of expenses in cash.",
                 "Automate your savings so you don't have to decide every month.",
                 "Fees compound just like returns do, so keep them low.", "This is general information, not financial advice."],
    },
    "homework": {
        "weight": 6,
        "prompts": ["Can you help me {hw_task}?", "{subject} homework: {hw_task}", "how do i {hw_task}, show your work",
                    "I don't get {subject}. How do I {hw_task}?"],
        "openers": ["Sure! Let's {hw_task} together.", "Here's how to approach this {subject} problem."],
        "body": ["First, write down what you know and what you need to find.", "Next, apply the rule one step at a time.",
                 "Check your answer by plugging it back in.", "The key idea is to keep both sides balanced.",
                 "Underline the question words so you answer exactly what is asked.",
                 "Try a similar example on your own to make sure it sticks."],
    },
    "translate": {
        "weight": 4,
        "prompts": ["Translate to {target_lang}: {phrase}", "How do you say '{phrase}' in {target_lang}?",
                    "Is this correct {target_lang}? I want to say {phrase}"],
        "openers": ["In {target_lang}, you could say it like this.", "Here is a natural {target_lang} version."],
        "body": ["The word order changes a little in a question.", "In a formal setting, use the polite form.",
                 "Locals often shorten this in casual speech.", "The literal translation sounds a bit stiff."],
    },
    "advice": {
        "weight": 5,
        "prompts": ["{relation} {conflict}. How do I bring it up?", "how to deal with {relation} who {conflict}",
                    "I want to {hobby}. Where do I start?", "Tips to {hobby} as an adult?"],
        "openers": ["That sounds frustrating, and it's good that you want to handle it calmly.",
                    "Starting is the hardest part, so here's a gentle plan."],
        "body": ["Pick a calm moment rather than the heat of the argument.", "Describe the behaviour, not the person.",
                 "Set a small goal you can do in fifteen minutes a day.", "Find a community; it makes it easier to keep going.",
                 "Expect some awkwardness at first; that's normal.", "Celebrate small progress."],
    },
    "books": {
        "weight": 3,
        "prompts": ["Summarise {book} in a paragraph.", "What are the main themes of {book}?",
                    "Books like {book}?", "Is {book} worth reading?"],
        "openers": ["{book} is a classic for good reasons.", "Here's a short overview of {book}."],
        "body": ["Its central theme is power and who gets to hold it.", "The characters change in quiet, believable ways.",
                 "Many readers find the ending divisive.", "It rewards a second reading."],
    },
    "productivity": {
        "weight": 5,
        "prompts": ["How do I {task} in {tool}?", "{tool}: how to {task}", "fastest way to {task} in {tool}?"],
        "openers": ["In {tool}, you can {task} in a few clicks.", "Here is the quickest way in {tool}."],
        "body": ["Select the range first, then open the menu.", "There is a keyboard shortcut that saves time.",
                 "Make a backup before you change many rows at once.", "You can save this as a template for next time."],
    },
    "pets": {
        "weight": 2,
        "prompts": ["My {pet} {pet_issue}. Help!", "how do I stop my {pet} when it {pet_issue}"],
        "openers": ["A {pet} that {pet_issue} is very common, and usually fixable.", "Here's what usually helps."],
        "body": ["Consistency matters more than any single trick.", "Reward the behaviour you want right away.",
                 "If it's sudden, check with a vet first.", "More exercise often reduces problem behaviour."],
    },
}

#: A small firm's recurring batch job: one account, one template, high volume — a legitimate
#: template re-user (hard negative for template detectors). Each firm writes its own template:
#: :func:`business_template` composes one from these parts (thousands of combinations), so two
#: firms rarely share a template; ``BUSINESS_TEMPLATES`` are a few fixed examples kept for tests.
BUSINESS_PARTS: dict[str, list[str]] = {
    "label": ["Review", "Ticket", "Customer message", "Input", "Text", "Feedback", "Email", "Comment", "Case notes",
              "Survey answer", "Chat transcript", "Note from {company}"],
    "task": ["summarize it in one sentence", "label its sentiment as positive, negative or neutral",
             "classify it into billing, shipping, technical or other", "extract the product and the main complaint",
             "tag the urgency from 1 to 3", "write a two-line reply on behalf of {company}",
             "list any refund request and order number", "detect the language and translate it to English",
             "decide whether it needs a human agent (yes/no)", "pick the department it should go to",
             "rate the customer's satisfaction from 1 to 5", "flag abusive language"],
    "format": ["Return JSON.", "Answer with the label only.", "Use the format LABEL | REASON.", "Keep it under 20 words.",
               "Reply in CSV: field,value.", "No explanations.", "One line per field.", "Output YAML."],
    "lead": ["", "You are {company}'s support assistant. ", "Internal tool. ", "[{company} batch] ",
             "Please process the following. ", "Task for {company} QA: "],
}
BUSINESS_COMPANIES: list[str] = ["Acme Outdoor", "Brightleaf", "Northwind", "Kettle & Co", "Lumen Labs", "Pinecrest",
                                 "Orbit Shoes", "Harbor Tea", "Vela Home", "Quill Books", "Tandem Bikes", "Mosaic Pets",
                                 "Sable Audio", "Juniper Kids", "Copperline", "Atlas Tools", "Fernway", "Nimbus Print"]
BUSINESS_TEMPLATES: list[str] = [
    "Summarize this customer review in one sentence and label its sentiment (positive/negative/neutral): \"{review}\"",
    "Classify the support ticket into billing, shipping, technical or other. Ticket: \"{review}\"",
    "Extract the product name and the main complaint as JSON from: \"{review}\"",
]
REVIEW_PARTS: dict[str, list[str]] = {
    "r1": ["I ordered {product} and it arrived", "Bought {product}, it came", "Got {product} delivered",
           "We received {product}"],
    "r2": ["two days late", "earlier than expected", "with a damaged box", "missing a part", "in perfect condition"],
    "r3": ["and honestly it works great.", "but the quality is disappointing.", "and support never replied.",
           "and I'd buy it again.", "but the instructions were confusing.", "and the refund took forever."],
}
BUSINESS_RESPONSES: list[str] = ["Sentiment: positive. The customer is satisfied with the product.",
                                 "Sentiment: negative. The customer reports a delivery problem.",
                                 "Category: shipping.", "Category: billing.", "Category: technical.",
                                 '{"product": "item", "complaint": "late delivery"}',
                                 "Sentiment: neutral. Mixed experience with delivery and quality."]

#: A school assignment many students paste (then rephrase) in the same class hour.
CLASS_ASSIGNMENTS: list[list[str]] = [
    ["Explain the causes of the French Revolution in 200 words.",
     "what were the causes of the french revolution (200 words)",
     "Can you explain why the French Revolution happened? Need 200 words for class",
     "causes of french revolution essay 200 words pls"],
    ["Solve for x and show your steps: 2x^2 - 8x + 6 = 0",
     "how do I solve 2x^2 - 8x + 6 = 0 step by step",
     "2x^2-8x+6=0 solve for x show work",
     "Help me factor 2x^2 - 8x + 6 = 0 please"],
    ["Describe the process of photosynthesis and its two main stages.",
     "what are the two stages of photosynthesis? describe the process",
     "photosynthesis explain both stages for my biology homework",
     "Can you describe photosynthesis simply, with the light and dark reactions?"],
    ["Write a short poem about the ocean using at least two metaphors.",
     "poem about the ocean with 2 metaphors",
     "I need an ocean poem with metaphors for English class",
     "write me a poem on the sea, must have two metaphors"],
]
CLASS_RESPONSES: list[str] = ["Let's go through it carefully.", "Here is a clear answer you can learn from.",
                              "First, identify the key parts of the question.", "The main factors were economic, social and political.",
                              "So the solutions are x = 1 and x = 3.", "In the light-dependent stage, energy from sunlight is captured.",
                              "The ocean is a restless giant, breathing against the shore.", "Remember to put it in your own words."]

#: Personal context people add around their question (before or after it); makes benign prompts
#: as idiosyncratic as real ones instead of bare templates.
CONTEXT: list[str] = [
    "I'm a nurse and I work night shifts.", "My budget is really tight this month.", "I tried googling but got confused.",
    "This is for my small bakery.", "I'm 67 and not very techy.", "My boss asked me to look into this.",
    "We just moved to a new city.", "I have an exam on Friday.", "My teenager keeps asking me about it.",
    "I only have about 20 minutes.", "English is not my first language, sorry.", "I already asked a friend but they weren't sure.",
    "I'm vegetarian, if that matters.", "It's for a school project.", "I've been stuck on this for two days.",
    "My partner and I disagree about this.", "I run a tiny online shop.", "I'm on my phone so sorry for typos.",
    "The last time I tried, it went badly.", "I work in logistics.", "I'm training for a half marathon.",
    "We have two kids under five.", "I'm switching careers into tech.", "Our team is only three people.",
    "My landlord is not very responsive.", "I live in a small apartment.", "I'm a freelance designer.",
    "I want to get this right the first time.", "Money is not the main issue.", "I'm a total beginner.",
    "My grandmother used to make this.", "I have a meeting about it tomorrow.", "I read conflicting advice online.",
    "I'm writing this at 2am, can't sleep.", "We're hosting my in-laws next week.", "It's my first job out of college.",
    "I manage a volunteer group.", "I'm recovering from a knee injury.", "My laptop is pretty old.",
    "I prefer practical answers over theory.", "Last year this cost me a lot.", "I'm in a rural area with bad internet.",
]


def business_template(rng) -> str:
    """One firm's batch template (``{review}`` is the per-row input), composed from BUSINESS_PARTS."""
    p = BUSINESS_PARTS
    company = BUSINESS_COMPANIES[int(rng.integers(0, len(BUSINESS_COMPANIES)))]
    lead = p["lead"][int(rng.integers(0, len(p["lead"])))]
    label = p["label"][int(rng.integers(0, len(p["label"])))]
    k = int(rng.integers(1, 3))
    tasks = [p["task"][int(i)] for i in rng.choice(len(p["task"]), size=k, replace=False)]
    fmt = p["format"][int(rng.integers(0, len(p["format"])))]
    instr = " and ".join(tasks)
    instr = instr[0].upper() + instr[1:]
    quote = ['"', "'", "<<", ""][int(rng.integers(0, 4))]
    close = {"<<": ">>"}.get(quote, quote)
    body = f"{label}: {quote}{{review}}{close}"
    out = f"{lead}{instr}. {fmt}\n{body}" if rng.random() < 0.5 else f"{lead}{body}\n{instr}. {fmt}"
    return out.replace("{company}", company)


#: Compositional pieces of how people wrap a question (see :func:`~stillwatch.guard_sim.textgen.human_wrap`). Each part is
#: drawn independently, so the combinations run into the millions: real users' openings and
#: endings are idiosyncratic, and only genuinely common phrasings ("how do I make ...") repeat
#: across many unrelated accounts.
GREETINGS: list[str] = ["hey", "hi", "hello", "hiya", "good morning", "good evening", "yo", "ok", "okay", "so",
                        "hmm", "um", "right", "quick one", "question", "help", "hey there", "hi again", "morning",
                        "evening all", "greetings", "sorry", "please", "hello friend", "ahoy", "dear assistant"]
GREETING_PUNCT: list[str] = [", ", "! ", ". ", " - ", "... ", ": ", " ", "!! "]
ROLES: list[str] = [
    "nurse", "teacher", "student", "retired engineer", "single dad", "mom of three", "bartender", "farmer", "pharmacist",
    "junior developer", "accountant", "landscaper", "grad student", "truck driver", "PhD student", "chef", "plumber",
    "small business owner", "photographer", "veterinarian", "librarian", "paramedic", "carpenter", "new manager",
    "high schooler", "musician", "real estate agent", "data analyst", "social worker", "dental hygienist",
    "electrician", "translator", "baker", "sales rep", "product designer", "warehouse worker", "lab technician",
    "journalist", "personal trainer", "pilot", "hairdresser", "architect", "receptionist", "UX researcher",
    "firefighter", "HR coordinator", "tour guide", "barista", "stay-at-home parent", "marketing intern",
]
ROLE_TAILS: list[str] = [
    "working nights", "with zero free time", "on a budget", "who is new to this", "in a small town",
    "living abroad", "just back from leave", "who hates spreadsheets", "learning on my own", "in my first year",
    "close to retirement", "juggling two jobs", "from Brazil", "from Poland", "from Kenya", "from Vietnam",
    "from Ohio", "in a tiny flat", "with a bad back", "with a deadline tomorrow", "who reads a lot",
    "with a toddler at home", "in a noisy office", "trying to save money", "who just moved", "without a car",
]
PEOPLE: list[str] = ["my sister", "my boss", "my son", "my daughter", "my neighbour", "my roommate", "my husband",
                     "my wife", "my partner", "a coworker", "my dad", "my mum", "my friend", "my landlord",
                     "my teacher", "my client", "my coach", "my grandpa", "our intern", "my best friend"]
SITUATIONS: list[str] = [
    "says I'm doing it wrong", "asked me about this yesterday", "keeps bringing it up", "recommended I ask here",
    "tried this last week and it failed", "thinks it's easy", "is waiting on my answer", "disagrees with me",
    "sent me a link that made no sense", "wants it done by Monday", "got different advice", "is counting on me",
]
LEADS: dict[str, list[str]] = {
    # question openings people vary; applied as a per-row substitution on the body's first words
    "How do I ": ["How do I ", "How can I ", "What's the best way to ", "Any tips on how to ", "how would I ",
                  "Is there an easy way to ", "I want to know how to ", "what's the trick to ", "Best way to "],
    "What's ": ["What's ", "What is ", "whats ", "Do you know what's ", "Tell me what's "],
    "Can you ": ["Can you ", "Could you ", "Would you ", "Please ", "Can u ", "I'd like you to ", "Mind if you "],
    "Explain ": ["Explain ", "Can you explain ", "Help me understand ", "Walk me through ", "Break down "],
    "Write ": ["Write ", "Draft ", "Could you write ", "Help me write ", "Put together "],
}
TRAILS: list[str] = [
    "thanks", "thank you so much", "ty", "cheers", "appreciate it", "any help is welcome", "no rush", "asap please",
    "keep it short", "be honest", "bullet points please", "simple words please", "just the basics", "in detail",
    "for a beginner", "step by step if you can", "with an example", "I'm on mobile", "sorry for the long post",
    "lol", ":)", "please", "if possible", "one paragraph max", "in plain English", "for context, I'm in the UK",
    "for context, I'm in Canada", "we're in Australia", "I'm in India", "budget matters", "before Friday",
]
